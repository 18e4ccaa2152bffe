//! The vocabulary at the bottom of the grants: the kinds of network use a
//! rule can name, and what a refusal records.

use crate::roles::Transport;

/// One kind of network use a rule can name.
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
    /// Looking up a name; the target is the name.
    Dns,
}

impl Op {
    /// Every socket operation (`*`): all but [`Op::Dns`]. TCP's four come
    /// first, then UDP's three.
    pub const ALL: [Op; 7] = [
        Op::TcpBind,
        Op::TcpListen,
        Op::TcpAccept,
        Op::TcpConnect,
        Op::UdpBind,
        Op::UdpSend,
        Op::UdpReceive,
    ];

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
            Op::Dns => "dns",
        }
    }

    /// The transport this operation belongs to (`None` for name lookups).
    pub fn transport(self) -> Option<Transport> {
        match self {
            Op::TcpBind | Op::TcpListen | Op::TcpAccept | Op::TcpConnect => Some(Transport::Tcp),
            Op::UdpBind | Op::UdpSend | Op::UdpReceive => Some(Transport::Udp),
            Op::Dns => None,
        }
    }

    /// Whether the guest never sees a refusal of this operation.
    pub fn silent(self) -> bool {
        matches!(self, Op::TcpAccept | Op::UdpReceive)
    }
}

impl From<wasmtime_wasi::sockets::SocketAddrUse> for Op {
    fn from(use_: wasmtime_wasi::sockets::SocketAddrUse) -> Op {
        use wasmtime_wasi::sockets::SocketAddrUse as U;
        match use_ {
            U::TcpBind => Op::TcpBind,
            U::TcpListen => Op::TcpListen,
            U::TcpAccept => Op::TcpAccept,
            U::TcpConnect => Op::TcpConnect,
            U::UdpBind => Op::UdpBind,
            U::UdpSend => Op::UdpSend,
            U::UdpReceive => Op::UdpReceive,
        }
    }
}

/// A refused use.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Refusal {
    /// Seconds since the Unix epoch.
    pub time: f64,
    /// What was refused.
    pub op: Op,
    /// The local address (bind, listen), the peer (the others) or the name
    /// (dns), as text.
    pub target: String,
    /// The rule that decided: a `--deny` rule, or none allowed it.
    pub rule: String,
    /// Whether the guest never saw the refusal (an accept or a datagram
    /// dropped before it reached the guest).
    pub silent: bool,
}
