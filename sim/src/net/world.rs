//! The nodes, links and sockets of one world, with their addresses and the
//! routes between them.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use rand::{Rng as _, SeedableRng as _, rngs::StdRng};
use socklab_relay::{Direction, LinkStats};

use super::Link;
use super::link::LinkState;
use super::tcp::stack::Stack;
use super::tcp::table::TcpTable;
use super::udp::UdpState;
use crate::random::derive;

/// Linux's default ephemeral port range (`net.ipv4.ip_local_port_range`).
pub(crate) const EPHEMERAL: std::ops::RangeInclusive<u16> = 32768..=60999;

/// A node's name and addresses.
pub(crate) struct NodeInfo {
    pub(crate) name: String,
    pub(crate) v4: Ipv4Addr,
    pub(crate) v6: Ipv6Addr,
}

/// Nodes, links and sockets.
pub(crate) struct Net {
    pub(crate) seed: u64,
    pub(crate) nodes: Vec<NodeInfo>,
    /// Configured links, by (from, to) node index.
    pub(crate) links: BTreeMap<(usize, usize), LinkState>,
    /// Per link name: its `to_server` pair and what it carried.
    pub(crate) stats: BTreeMap<String, ((usize, usize), LinkStats)>,
    /// Live UDP sockets, by number.
    pub(crate) sockets: BTreeMap<u64, UdpState>,
    /// Each bound UDP socket as (node, port, number): the sockets a
    /// datagram to a node's port may be for, found without a walk over
    /// every socket of the world, in number order as that walk met them.
    pub(crate) udp_bound: BTreeSet<(usize, u16, u64)>,
    next_socket: u64,
    /// Ephemeral port draws.
    ports: StdRng,
    /// Live TCP sockets (and closed ones still finishing), node by node;
    /// their numbers are drawn from the same counter as UDP's.
    pub(crate) tcp: TcpTable,
    /// Each node's addresses (both families): which node a packet goes to,
    /// found without a walk over every node.
    by_ip: BTreeMap<IpAddr, usize>,
    /// Each node's TCP/IP stack, made on its first TCP use.
    pub(crate) stacks: BTreeMap<usize, Stack>,
    /// TCP's ephemeral port draws, apart from UDP's so that a TCP socket
    /// never changes which port a UDP socket gets.
    pub(crate) tcp_ports: StdRng,
}

/// How a datagram leaves its node.
pub(crate) enum Route {
    /// To the sending node itself, at once.
    Loopback,
    /// To node `to`, over the link from the sender's node.
    Link { to: usize },
    /// To an address no node has.
    Nowhere,
}

impl Net {
    pub(crate) fn new(seed: u64) -> Net {
        Net {
            seed,
            nodes: Vec::new(),
            links: BTreeMap::new(),
            stats: BTreeMap::new(),
            sockets: BTreeMap::new(),
            udp_bound: BTreeSet::new(),
            next_socket: 1,
            ports: StdRng::from_seed(derive(seed, "", "ephemeral-ports")),
            tcp: TcpTable::default(),
            by_ip: BTreeMap::new(),
            stacks: BTreeMap::new(),
            tcp_ports: StdRng::from_seed(derive(seed, "", "tcp-ephemeral-ports")),
        }
    }

    pub(crate) fn add_node(&mut self, name: &str) -> (usize, Ipv4Addr, Ipv6Addr) {
        let taken = self.nodes.iter().any(|n| n.name.eq_ignore_ascii_case(name));
        assert!(
            !taken && !name.eq_ignore_ascii_case("localhost"),
            "socklab_sim: a node called {name:?} exists already (or is localhost)"
        );
        let n = self.nodes.len() + 1;
        let v4 = Ipv4Addr::new(10, 0, (n / 256) as u8, (n % 256) as u8);
        let v6 = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, (n >> 16) as u16, n as u16);
        self.nodes.push(NodeInfo {
            name: name.to_owned(),
            v4,
            v6,
        });
        self.by_ip.insert(v4.into(), n - 1);
        self.by_ip.insert(v6.into(), n - 1);
        (n - 1, v4, v6)
    }

    pub(crate) fn set_link(&mut self, from: usize, to: usize, link: Link) {
        let direction = match self.stats.get(&link.name) {
            None => {
                let stats = LinkStats::default();
                self.stats.insert(link.name.clone(), ((from, to), stats));
                Direction::ToServer
            }
            Some((first, _)) if *first == (from, to) => Direction::ToServer,
            Some((first, _)) if *first == (to, from) => Direction::ToClient,
            Some(_) => panic!(
                "socklab_sim: link name {:?} is used by another pair of nodes",
                link.name
            ),
        };
        self.links
            .insert((from, to), LinkState::new(link, direction));
    }

    pub(crate) fn link_stats(&self, name: &str) -> LinkStats {
        self.stats
            .get(name)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }

    pub(crate) fn resolve(&self, name: &str) -> Option<Vec<IpAddr>> {
        if name.eq_ignore_ascii_case("localhost") {
            return Some(vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()]);
        }
        let node = self
            .nodes
            .iter()
            .find(|n| n.name.eq_ignore_ascii_case(name))?;
        Some(vec![node.v4.into(), node.v6.into()])
    }

    /// The numbers of the UDP sockets bound to `port` on `node`, ascending.
    pub(crate) fn udp_bound_to(&self, node: usize, port: u16) -> impl Iterator<Item = u64> + '_ {
        let range = (node, port, 0)..=(node, port, u64::MAX);
        self.udp_bound.range(range).map(|&(_, _, id)| id)
    }

    /// A new socket number.
    pub(crate) fn socket_number(&mut self) -> u64 {
        let n = self.next_socket;
        self.next_socket += 1;
        n
    }

    /// Whether `ip` is one `node` may bind: the wildcard, its loopback or
    /// its own address.
    pub(crate) fn is_local(&self, node: usize, ip: IpAddr) -> bool {
        ip.is_unspecified() || ip.is_loopback() || self.owner(ip) == Some(node)
    }

    /// The node whose address `ip` is.
    pub(crate) fn owner(&self, ip: IpAddr) -> Option<usize> {
        self.by_ip.get(&ip).copied()
    }

    pub(crate) fn route(&self, from: usize, dst: IpAddr) -> Route {
        if dst.is_loopback() {
            return Route::Loopback;
        }
        match self.owner(dst) {
            Some(to) if to == from => Route::Loopback,
            Some(to) => Route::Link { to },
            None => Route::Nowhere,
        }
    }

    /// The source address a socket of `node` bound to the wildcard uses
    /// towards `dst`: the loopback for the loopback, else the node's own.
    pub(crate) fn source_ip(&self, node: usize, dst: IpAddr) -> IpAddr {
        let own = &self.nodes[node];
        match dst {
            IpAddr::V4(v4) if v4.is_loopback() => Ipv4Addr::LOCALHOST.into(),
            IpAddr::V6(v6) if v6.is_loopback() => Ipv6Addr::LOCALHOST.into(),
            IpAddr::V4(_) => own.v4.into(),
            IpAddr::V6(_) => own.v6.into(),
        }
    }

    /// Whether `addr` would clash with a socket bound on `node` (no
    /// `SO_REUSEADDR`: same port and family, and the same address or a
    /// wildcard on either side). IPv6 sockets are IPv6-only, so the two
    /// families have separate ports.
    pub(crate) fn in_use(&self, node: usize, addr: SocketAddr) -> bool {
        self.sockets.values().any(|s| {
            s.node == node
                && s.bound.is_some_and(|b| {
                    b.is_ipv4() == addr.is_ipv4()
                        && b.port() == addr.port()
                        && (b.ip() == addr.ip()
                            || b.ip().is_unspecified()
                            || addr.ip().is_unspecified())
                })
        })
    }

    /// A free ephemeral port for `ip` on `node`, drawn from the seed; `None`
    /// when every port of the range is taken.
    pub(crate) fn ephemeral_port(&mut self, node: usize, ip: IpAddr) -> Option<u16> {
        let span = u32::from(EPHEMERAL.end() - EPHEMERAL.start()) + 1;
        let first = (self.ports.next_u32() % span) as u16;
        (0..span as u16)
            .map(|i| EPHEMERAL.start() + (first + i) % span as u16)
            .find(|&port| !self.in_use(node, SocketAddr::new(ip, port)))
    }
}
