//! The simulated network as its users see it: [`Node`]s with addresses of
//! their own, directed [`Link`]s with latency and impairments, the links'
//! [`LinkStats`] and the event log.
//!
//! - `world`: the nodes, links and sockets, addresses and routes.
//! - `udp`: what a UDP socket does (bind, connect, send, arrive, receive).
//! - `tcp`: TCP on smoltcp, one stack per node, and socklab's layer over it.
//! - [`UdpSocket`], [`TcpListener`], [`TcpStream`]: sockets for Rust code
//!   inside the simulation.
//! - `link`: one datagram's fate on a link, drawn from the seed.
//! - `models`: the link models only the simulated network has ([`LinkModels`]);
//!   `burst`: one of them, loss in bursts (Gilbert–Elliott); `checksum`:
//!   the bit `corrupt` flips and the receiver's checksum that catches it.
//! - `record`: the event log as it is kept (numbers, made into text when
//!   read).

mod burst;
mod checksum;
pub(crate) mod link;
pub(crate) mod models;
pub(crate) mod record;
mod socket;
pub(crate) mod tcp;
mod tcp_socket;
pub(crate) mod udp;
pub(crate) mod world;

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use socklab_relay::{LinkStats, UdpImpairments};

pub use burst::BurstLoss;
pub use models::{Distribution, LinkModels};
pub use socket::UdpSocket;
pub use tcp_socket::{TcpListener, TcpStream};

use crate::exec::Handle;
use crate::log::{self, LogEvent};

/// The latency of a link between two nodes that [`Handle::set_link`] did not
/// configure: 100 µs each way, nothing impaired, no statistics kept.
/// A node's loopback (its `127.0.0.0/8`, `::1` and own addresses) delivers
/// at once, in the sending call.
pub const DEFAULT_LATENCY: Duration = Duration::from_micros(100);

/// One host on the simulated network.
///
/// Node number `n` (from 1, in [`Handle::add_node`] order) has the addresses
/// `10.0.(n / 256).(n % 256)` and `fd00::n`; its `127.0.0.1` and `::1` are its
/// own loopback.
#[derive(Clone)]
pub struct Node {
    pub(crate) handle: Handle,
    pub(crate) index: usize,
    name: Arc<str>,
    v4: Ipv4Addr,
    v6: Ipv6Addr,
}

impl Node {
    /// Its name, unique in its world; it resolves to its addresses.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its IPv4 address.
    pub fn ipv4(&self) -> Ipv4Addr {
        self.v4
    }

    /// Its IPv6 address.
    pub fn ipv6(&self) -> Ipv6Addr {
        self.v6
    }

    /// The world it belongs to.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Node({} {} {})", self.name, self.v4, self.v6)
    }
}

/// One direction of a link between two nodes.
#[derive(Clone, Debug, Default)]
pub struct Link {
    /// Fixed one-way latency, added to `impair.delay` and the jitter.
    pub latency: Duration,
    /// What happens to datagrams on the way; every draw is
    /// `socklab_relay::draw(seed, name, direction, key, purpose)`, with the
    /// relay's keys and purposes.
    pub impair: UdpImpairments,
    /// The name of the link in [`Handle::link_stats`] and in the draws. The
    /// first [`Handle::set_link`] with a name makes its `from → to` the
    /// `to_server` direction; the reverse pair may then use the same name as
    /// `to_client`.
    pub name: String,
    /// The models only the simulated network has (bursts, a delay
    /// distribution, corruption, a queue in bytes, an MTU); the default
    /// (none) keeps the link a twin of a relay's.
    pub models: LinkModels,
}

impl Handle {
    /// Adds a node called `name`, with the next addresses.
    ///
    /// # Panics
    /// When `name` is already taken or is `localhost`.
    pub fn add_node(&self, name: &str) -> Node {
        let (index, v4, v6) = self.shared.core().net.add_node(name);
        Node {
            handle: self.clone(),
            index,
            name: name.into(),
            v4,
            v6,
        }
    }

    /// Sets the link `from → to` (one direction).
    ///
    /// # Panics
    /// When `link.impair` does not validate, or `link.name` is already used
    /// by another pair of nodes.
    pub fn set_link(&self, from: &Node, to: &Node, link: Link) {
        if let Err(e) = link.impair.validate() {
            panic!("socklab_sim: link {:?}: {e}", link.name);
        }
        if let Some(d) = link.models.distribution
            && let Err(e) = d.check(link.impair.delay, link.impair.jitter)
        {
            panic!("socklab_sim: link {:?}: {e}", link.name);
        }
        self.shared.core().net.set_link(from.index, to.index, link);
    }

    /// What link `name` has carried so far, in socklab-relay's shape
    /// (`legs` stays empty: there is no relay). Empty for an unknown name.
    pub fn link_stats(&self, name: &str) -> LinkStats {
        self.shared.core().net.link_stats(name)
    }

    /// Every event so far, in order.
    pub fn events(&self) -> Vec<LogEvent> {
        let core = self.shared.core();
        let names = &core.net.nodes;
        let event = |r: &record::Record| r.event(&names[r.node].name);
        core.log.iter().map(event).collect()
    }

    /// How many events there are so far: `events().len()`, without making
    /// their text.
    pub fn event_count(&self) -> usize {
        self.shared.core().log.len()
    }

    /// Writes every event so far as JSON Lines.
    pub fn write_jsonl(&self, out: &mut impl Write) -> io::Result<()> {
        let core = self.shared.core();
        for r in &core.log {
            let event = r.event(&core.net.nodes[r.node].name);
            log::write_jsonl(std::slice::from_ref(&event), out)?;
        }
        Ok(())
    }

    /// The addresses `name` resolves to on `node`'s network: `localhost` to
    /// its loopback, a node's name to that node's addresses (IPv4 first).
    /// Names compare without regard to ASCII case. `None`: unknown name.
    pub fn resolve(&self, node: &Node, name: &str) -> Option<Vec<IpAddr>> {
        let _ = node;
        self.shared.core().net.resolve(name)
    }
}
