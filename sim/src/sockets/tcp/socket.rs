//! The `tcp-socket` resource: wasmtime-wasi 48's states (`TcpState`) and
//! in-progress operation, and its pollable.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use wasmtime_wasi_io::poll::Pollable;

use crate::bindings::sockets::network::ErrorCode;
use crate::net::Node;
use crate::net::tcp::{DEFAULT_BACKLOG, Ready};

/// The `tcp-socket` resource.
pub struct TcpSocket {
    pub(super) id: u64,
    pub(super) node: Node,
    pub(super) ipv6: bool,
    /// The `start-*` whose `finish-*` has not been called yet.
    pub(super) op: Option<Op>,
    pub(super) state: State,
    /// For the next `listen` (wasmtime-wasi's `listen_backlog_size`).
    pub(super) backlog: u32,
    /// Whether the streams were handed out (`shutdown` needs them).
    pub(super) streams: bool,
    /// Made by `accept`: its drop ends one of the host's connections.
    pub(super) accepted: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Bind,
    Connect,
    Listen,
}

/// wasmtime-wasi's `TcpState`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Default,
    /// With the error a grant check or the network gave at once, which
    /// `finish-connect` reports.
    Connecting(Option<ErrorCode>),
    Connected,
    Listening,
    Closed(ErrorCode),
}

impl TcpSocket {
    pub(super) fn new(id: u64, node: Node, ipv6: bool, state: State) -> TcpSocket {
        TcpSocket {
            id,
            node,
            ipv6,
            op: None,
            state,
            backlog: DEFAULT_BACKLOG,
            streams: false,
            accepted: false,
        }
    }

    /// wasmtime-wasi's `is_bound`: any socket past `Default` is.
    pub(super) fn is_bound(&self) -> bool {
        self.state != State::Default || self.core().tcp(self.id).is_ok_and(|s| s.bound.is_some())
    }

    pub(super) fn core(&self) -> std::sync::MutexGuard<'_, crate::core::Core> {
        self.node.handle.shared.core()
    }
}

/// The wildcard address of a family, which an implicit bind is checked on.
pub(super) fn unspecified(ipv6: bool) -> SocketAddr {
    let ip: IpAddr = if ipv6 {
        Ipv6Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::UNSPECIFIED.into()
    };
    SocketAddr::new(ip, 0)
}

/// wasmtime-wasi's `is_valid_unicast_address`.
pub(super) fn unicast(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => !v4.is_multicast() && !v4.is_broadcast(),
        IpAddr::V6(v6) => !v6.is_multicast(),
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for TcpSocket {
    /// As wasmtime-wasi's: a connect in progress waits for its outcome, a
    /// listener (once `finish-listen` is done) for a connection to accept;
    /// anything else is ready at once.
    async fn ready(&mut self) {
        let what = match (self.op, self.state) {
            (Some(Op::Connect), State::Connecting(None)) => Ready::Connect,
            (None, State::Listening) => Ready::Accept,
            _ => return,
        };
        let (id, shared) = (self.id, self.node.handle.shared.clone());
        std::future::poll_fn(|cx| shared.core().tcp_poll(id, what, cx)).await
    }
}
