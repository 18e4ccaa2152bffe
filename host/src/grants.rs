//! What a guest may do on the network: rules, the check wasmtime-wasi calls
//! for every socket use, and the record of each decision.
//!
//! # Model
//! A [`Policy`] is a list of allow rules. Every `bind`, `listen`, `accept`,
//! `connect`, datagram send and datagram receive a guest makes reaches
//! [`Policy::check`] through wasmtime-wasi's `socket_addr_check`; a use that
//! no rule allows is refused, and the guest sees `access-denied` (or, for an
//! accept or an incoming datagram, never sees the peer at all).
//!
//! The host builds each guest's policy from the wiring, least privilege
//! first ([`Policy::for_tcp_server`] and friends): a server may bind its
//! listen address, a client may reach its server, nothing else.
//!
//! Every refusal is kept individually; allowed uses are counted per
//! operation and address, since UDP is checked once per datagram.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use wasmtime_wasi::sockets::SocketAddrUse;

/// One kind of socket use, as `socket_addr_check` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// Binding a TCP socket (explicitly, or implicitly before connect or
    /// listen); the target is the local address.
    TcpBind,
    /// Listening; the target is the bound local address.
    TcpListen,
    /// Accepting a connection; the target is the peer.
    TcpAccept,
    /// Connecting; the target is the peer.
    TcpConnect,
    /// Binding a UDP socket; the target is the local address.
    UdpBind,
    /// Sending a datagram; the target is its destination.
    UdpSend,
    /// Receiving a datagram; the target is its source.
    UdpReceive,
}

impl Op {
    /// The operation as rules spell it: `tcp-bind`, `udp-send`, ...
    pub fn name(self) -> &'static str {
        match self {
            Op::TcpBind => "tcp-bind",
            Op::TcpListen => "tcp-listen",
            Op::TcpAccept => "tcp-accept",
            Op::TcpConnect => "tcp-connect",
            Op::UdpBind => "udp-bind",
            Op::UdpSend => "udp-send",
            Op::UdpReceive => "udp-receive",
        }
    }

    /// Whether the guest never sees a refusal of this operation: wasmtime-wasi
    /// drops a refused accept or incoming datagram silently.
    pub fn silent(self) -> bool {
        matches!(self, Op::TcpAccept | Op::UdpReceive)
    }
}

impl From<SocketAddrUse> for Op {
    fn from(use_: SocketAddrUse) -> Op {
        match use_ {
            SocketAddrUse::TcpBind => Op::TcpBind,
            SocketAddrUse::TcpListen => Op::TcpListen,
            SocketAddrUse::TcpAccept => Op::TcpAccept,
            SocketAddrUse::TcpConnect => Op::TcpConnect,
            SocketAddrUse::UdpBind => Op::UdpBind,
            SocketAddrUse::UdpSend => Op::UdpSend,
            SocketAddrUse::UdpReceive => Op::UdpReceive,
        }
    }
}

/// The addresses a rule covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Any address and port.
    Any,
    /// One address, with one port or any port.
    Addr { ip: IpAddr, port: Option<u16> },
    /// Peers this guest has received a datagram from (a UDP server's replies).
    Senders,
}

impl Target {
    /// Exactly `addr`.
    pub fn exact(addr: SocketAddr) -> Target {
        Target::Addr {
            ip: addr.ip(),
            port: Some(addr.port()),
        }
    }

    /// Address `ip`, any port.
    pub fn any_port(ip: IpAddr) -> Target {
        Target::Addr { ip, port: None }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Any => f.write_str("*"),
            Target::Senders => f.write_str("peers it has received from"),
            Target::Addr { ip, port } => {
                match ip {
                    IpAddr::V4(ip) => write!(f, "{ip}")?,
                    IpAddr::V6(ip) => write!(f, "[{ip}]")?,
                }
                match port {
                    Some(p) => write!(f, ":{p}"),
                    None => f.write_str(":*"),
                }
            }
        }
    }
}

/// An allow rule: one operation on one set of addresses.
#[derive(Clone, Debug)]
pub struct Rule {
    pub op: Op,
    pub target: Target,
    /// Where the rule came from: `wiring` for the host's least-privilege
    /// grants.
    pub origin: &'static str,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.op.name(), self.target)
    }
}

/// A refused socket use.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Refusal {
    /// Seconds since the Unix epoch.
    pub time: f64,
    pub op: Op,
    /// The local address (bind, listen) or the peer (the others).
    pub addr: SocketAddr,
    /// Why: no rule allowed it.
    pub reason: String,
    /// Whether the guest was told (`access-denied`) or never saw the peer.
    pub silent: bool,
}

/// The decisions made for one guest.
#[derive(Default, Debug)]
struct Decisions {
    refused: Vec<Refusal>,
    /// Allowed uses, counted per operation and address.
    allowed: BTreeMap<(Op, SocketAddr), u64>,
    /// Peers a datagram was received from (for [`Target::Senders`]).
    senders: HashSet<SocketAddr>,
}

/// Refusals kept per guest at most, so a guest that hammers a forbidden
/// address cannot grow the host's memory without bound.
const MAX_REFUSALS: usize = 10_000;

/// One guest's grants and the decisions made under them.
#[derive(Debug)]
pub struct Policy {
    rules: Vec<Rule>,
    decisions: Mutex<Decisions>,
}

impl Policy {
    /// A policy that allows exactly `rules`.
    pub fn new(rules: Vec<Rule>) -> Arc<Policy> {
        Arc::new(Policy {
            rules,
            decisions: Mutex::default(),
        })
    }

    /// A TCP server: bind and listen on its listen address, accept anyone.
    pub fn for_tcp_server(listen: SocketAddr) -> Arc<Policy> {
        Policy::new(vec![
            wiring(Op::TcpBind, Target::exact(listen)),
            wiring(Op::TcpListen, listen_target(listen)),
            wiring(Op::TcpAccept, Target::Any),
        ])
    }

    /// A TCP client: connect to its server, plus the wildcard bind that
    /// connecting performs implicitly.
    pub fn for_tcp_client(server: SocketAddr) -> Arc<Policy> {
        Policy::new(vec![
            wiring(Op::TcpConnect, Target::exact(server)),
            wiring(
                Op::TcpBind,
                Target::exact(SocketAddr::new(unspecified(server.ip()), 0)),
            ),
        ])
    }

    /// A UDP server: bind its listen address, receive from anyone, send only
    /// to peers it has received from.
    pub fn for_udp_server(listen: SocketAddr) -> Arc<Policy> {
        Policy::new(vec![
            wiring(Op::UdpBind, Target::exact(listen)),
            wiring(Op::UdpReceive, Target::Any),
            wiring(Op::UdpSend, Target::Senders),
        ])
    }

    /// A UDP client: bind an ephemeral port (wildcard or loopback), send to
    /// and receive from its server only.
    pub fn for_udp_client(server: SocketAddr) -> Arc<Policy> {
        let loopback = match server {
            SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        };
        Policy::new(vec![
            wiring(
                Op::UdpBind,
                Target::exact(SocketAddr::new(unspecified(server.ip()), 0)),
            ),
            wiring(Op::UdpBind, Target::exact(SocketAddr::new(loopback, 0))),
            wiring(Op::UdpSend, Target::exact(server)),
            wiring(Op::UdpReceive, Target::exact(server)),
        ])
    }

    /// The rules in force, for the transcript.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Decide one socket use, and record the decision.
    pub fn check(&self, op: Op, addr: SocketAddr) -> bool {
        let mut decisions = self.decisions.lock().unwrap();
        let allowed = self.rules.iter().any(|rule| {
            rule.op == op
                && match &rule.target {
                    Target::Any => true,
                    Target::Senders => decisions.senders.contains(&addr),
                    Target::Addr { ip, port } => {
                        same_ip(*ip, addr.ip()) && port.is_none_or(|p| p == addr.port())
                    }
                }
        });
        if allowed {
            *decisions.allowed.entry((op, addr)).or_default() += 1;
            if op == Op::UdpReceive {
                decisions.senders.insert(addr);
            }
        } else if decisions.refused.len() < MAX_REFUSALS {
            decisions.refused.push(Refusal {
                time: SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64()),
                op,
                addr,
                reason: format!("no rule allows {} {}", op.name(), Target::exact(addr)),
                silent: op.silent(),
            });
        }
        allowed
    }

    /// Every refusal so far, oldest first.
    pub fn refusals(&self) -> Vec<Refusal> {
        self.decisions.lock().unwrap().refused.clone()
    }

    /// Allowed uses so far: operation, address, count.
    pub fn allowed(&self) -> Vec<(Op, SocketAddr, u64)> {
        let decisions = self.decisions.lock().unwrap();
        decisions
            .allowed
            .iter()
            .map(|(&(op, addr), &n)| (op, addr, n))
            .collect()
    }
}

fn wiring(op: Op, target: Target) -> Rule {
    Rule {
        op,
        target,
        origin: "wiring",
    }
}

/// The address `listen` may be checked against once the socket is bound:
/// with port 0 the real port is not known in advance.
fn listen_target(listen: SocketAddr) -> Target {
    if listen.port() == 0 {
        Target::any_port(listen.ip())
    } else {
        Target::exact(listen)
    }
}

/// The wildcard address of `ip`'s family.
pub fn unspecified(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// Address equality that treats an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`)
/// as the IPv4 address it carries, as a dual-stack socket reports peers.
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}
