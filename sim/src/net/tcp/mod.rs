//! What a simulated TCP socket is to the network: socklab's layer over
//! smoltcp 0.14, which does the TCP itself (handshake, windows,
//! retransmission, FIN and RST).
//!
//! smoltcp has sockets but no kernel: no port tables, no listen backlog, no
//! `listen` on port 0, no `accept`. This layer supplies them, as Linux would:
//! - [`TcpEntry`]: one socket as the guest knows it (its number, node,
//!   family, bound address, options) and the smoltcp socket(s) behind it
//!   ([`Phase`]);
//! - `ops`: bind (per-family port tables of TCP's own, ephemeral ports drawn
//!   from the seed), connect, listen with a backlog, accept, read, write,
//!   shutdown and close;
//! - `stack`: each node's smoltcp `Interface` on the simulation's clock, the
//!   one place its IP packets leave it (`Core::emit`) and where they arrive;
//! - `segment`: a packet's TCP header, read for the event log;
//! - `table`: the world's sockets, kept node by node.

mod ops;
pub(crate) mod segment;
mod settle;
pub(crate) mod stack;
pub(crate) mod table;

use std::collections::VecDeque;
use std::net::SocketAddr;

use smoltcp::iface::SocketHandle;

pub(crate) use ops::{Read, Ready, WriteError};

use crate::bindings::sockets::network::ErrorCode;

/// Linux's default listen backlog as wasmtime-wasi 48 asks for it (Rust's
/// standard library value).
pub(crate) const DEFAULT_BACKLOG: u32 = 128;

/// The receive buffer a new socket has and reports (Linux's
/// `tcp_rmem[1]` = 131 072, halved as wasmtime-wasi halves what Linux
/// reports). It is the smoltcp socket's receive buffer, so the window.
pub(crate) const DEFAULT_RECEIVE_BUFFER: u64 = 65_536;

/// The send buffer a new socket has and reports. Linux starts at
/// `tcp_wmem[1]` = 16 384 and autotunes; the simulation keeps a fixed
/// 64 KiB so a simulated link is not limited by a small window.
pub(crate) const DEFAULT_SEND_BUFFER: u64 = 65_536;

/// The most a buffer may be set to (Linux's `rmem_max`/`wmem_max` as
/// wasmtime-wasi reports them), and the least a smoltcp buffer is given.
pub(crate) const MAX_BUFFER: u64 = 212_992;
const MIN_BUFFER: u64 = 1_024;

/// How long a connect waits for its SYN to be answered before `timeout`:
/// Linux's `tcp_syn_retries` = 6 gives up after about 127 s.
pub(crate) const CONNECT_TIMEOUT_SECS: u64 = 127;

/// One TCP socket of the guest's (or of a Rust test's).
pub(crate) struct TcpEntry {
    pub(crate) node: usize,
    pub(crate) ipv6: bool,
    /// The address it was bound to (explicitly, or by connect or listen),
    /// its port resolved.
    pub(crate) bound: Option<SocketAddr>,
    pub(crate) phase: Phase,
    pub(crate) opts: TcpOptions,
    /// Bytes written by the guest that the smoltcp send buffer had no room
    /// for yet: the part of a write wasmtime-wasi finishes in the background.
    pub(crate) pending: VecDeque<u8>,
    /// `shutdown(send)` or close: a FIN once `pending` is sent.
    pub(crate) fin_after_pending: bool,
    /// `shutdown(receive)`: reads say end of stream.
    pub(crate) read_shut: bool,
    /// What a RST (or an unreachable peer, or a timeout) left: the error the
    /// next connect, read or write reports.
    pub(crate) error: Option<ErrorCode>,
    /// The guest closed it; kept until smoltcp's socket is closed too (its
    /// FIN exchanged, its TIME-WAIT over).
    pub(crate) orphan: bool,
}

/// Which smoltcp sockets stand behind a [`TcpEntry`].
pub(crate) enum Phase {
    /// Neither connecting nor listening (maybe bound).
    Idle,
    /// SYN sent, not yet answered.
    Connecting(SocketHandle),
    /// Established (or past it: closing, closed).
    Connected(SocketHandle),
    /// Listening: the backlog wasmtime-wasi asked for, the smoltcp sockets
    /// in LISTEN or SYN-RECEIVED on the port, and the connections
    /// established and not yet accepted, in arrival order.
    Listening {
        backlog: u32,
        pool: Vec<SocketHandle>,
        ready: VecDeque<SocketHandle>,
    },
    /// The connect failed, with this error.
    Failed(ErrorCode),
}

/// The socket options a guest sets and reads back.
#[derive(Clone, Debug)]
pub(crate) struct TcpOptions {
    pub(crate) keep_alive: bool,
    /// Nanoseconds (Linux's defaults: 7200 s, 75 s, 9 probes).
    pub(crate) keep_alive_idle: u64,
    pub(crate) keep_alive_interval: u64,
    pub(crate) keep_alive_count: u32,
    pub(crate) hop_limit: u8,
    pub(crate) receive_buffer: u64,
    pub(crate) send_buffer: u64,
}

impl Default for TcpOptions {
    fn default() -> TcpOptions {
        TcpOptions {
            keep_alive: false,
            keep_alive_idle: 7_200 * 1_000_000_000,
            keep_alive_interval: 75 * 1_000_000_000,
            keep_alive_count: 9,
            hop_limit: crate::net::udp::DEFAULT_HOP_LIMIT,
            receive_buffer: DEFAULT_RECEIVE_BUFFER,
            send_buffer: DEFAULT_SEND_BUFFER,
        }
    }
}

impl TcpOptions {
    /// A new smoltcp socket with these options: its buffers are fixed
    /// when it is made (a later `set-*-buffer-size` is kept and read back,
    /// and applies to the next connect or listen).
    pub(crate) fn socket(&self) -> smoltcp::socket::tcp::Socket<'static> {
        let size = |v: u64| v.clamp(MIN_BUFFER, MAX_BUFFER) as usize;
        let rx = smoltcp::socket::tcp::SocketBuffer::new(vec![0; size(self.receive_buffer)]);
        let tx = smoltcp::socket::tcp::SocketBuffer::new(vec![0; size(self.send_buffer)]);
        let mut s = smoltcp::socket::tcp::Socket::new(rx, tx);
        self.apply(&mut s);
        s
    }

    /// Applies what smoltcp can change on a live socket: hop limit and
    /// keep-alive (smoltcp probes every `idle` and never gives up after
    /// `count` probes).
    pub(crate) fn apply(&self, s: &mut smoltcp::socket::tcp::Socket<'static>) {
        s.set_hop_limit(Some(self.hop_limit));
        let idle = smoltcp::time::Duration::from_micros(self.keep_alive_idle / 1_000);
        s.set_keep_alive(self.keep_alive.then_some(idle));
    }
}

impl TcpEntry {
    pub(crate) fn new(node: usize, ipv6: bool) -> TcpEntry {
        TcpEntry {
            node,
            ipv6,
            bound: None,
            phase: Phase::Idle,
            opts: TcpOptions::default(),
            pending: VecDeque::new(),
            fin_after_pending: false,
            read_shut: false,
            error: None,
            orphan: false,
        }
    }

    /// Its connected (or connecting) smoltcp socket.
    pub(crate) fn stream(&self) -> Option<SocketHandle> {
        match self.phase {
            Phase::Connecting(h) | Phase::Connected(h) => Some(h),
            _ => None,
        }
    }

    /// Whether `test` holds for one of the smoltcp sockets it owns (as
    /// [`TcpEntry::handles`] lists them, without making the list: this is
    /// asked of every socket of a node for every packet it sends).
    pub(crate) fn owns(&self, mut test: impl FnMut(SocketHandle) -> bool) -> bool {
        match &self.phase {
            Phase::Connecting(h) | Phase::Connected(h) => test(*h),
            Phase::Listening { pool, ready, .. } => pool.iter().chain(ready).any(|&h| test(h)),
            Phase::Idle | Phase::Failed(_) => false,
        }
    }

    /// Whether settling it after a poll would change nothing: an open
    /// connection the guest still holds, with no bytes waiting for the
    /// send buffer and no FIN to send (`settle_one` would only look).
    pub(crate) fn settled(&self) -> bool {
        matches!(self.phase, Phase::Connected(_))
            && !self.orphan
            && !self.fin_after_pending
            && self.pending.is_empty()
    }

    /// Every smoltcp socket it owns.
    pub(crate) fn handles(&self) -> Vec<SocketHandle> {
        match &self.phase {
            Phase::Connecting(h) | Phase::Connected(h) => vec![*h],
            Phase::Listening { pool, ready, .. } => pool.iter().chain(ready).copied().collect(),
            Phase::Idle | Phase::Failed(_) => Vec::new(),
        }
    }
}
