//! What the kernel does for a TCP socket's calls: bind, connect, listen,
//! accept, read, write, shutdown, close. The bindings
//! (`crate::sockets::tcp`) check the guest's state, arguments and grants
//! first, in wasmtime-wasi 48's order.

use std::net::{IpAddr, SocketAddr};
use std::task::{Context, Poll};

use rand::Rng as _;
use smoltcp::socket::tcp::Socket;

use super::{CONNECT_TIMEOUT_SECS, Phase, TcpEntry, TcpOptions};
use crate::bindings::sockets::network::ErrorCode;
use crate::core::Core;
use crate::log::EventKind;
use crate::net::record::Detail;
use crate::net::world::{EPHEMERAL, Route};

/// What a read found.
pub(crate) enum Read {
    Data(Vec<u8>),
    /// Nothing yet.
    WouldBlock,
    /// The peer's FIN (or `shutdown(receive)`): no more data.
    End,
    /// A reset, reported once; the stream is closed after it.
    Failed(ErrorCode),
}

/// Why a write cannot go on.
pub(crate) enum WriteError {
    /// Shut down for writing, or the connection is gone (`EPIPE`).
    Closed,
    Failed(ErrorCode),
}

/// What a socket's pollable waits for.
#[derive(Clone, Copy)]
pub(crate) enum Ready {
    Connect,
    Accept,
    Read,
    Write,
    /// Every written byte is in the send buffer (or the connection failed).
    Sent,
}

impl Core {
    /// A new TCP socket on `node`; its number.
    pub(crate) fn tcp_open(&mut self, node: usize, ipv6: bool) -> u64 {
        let id = self.net.socket_number();
        self.net.tcp.insert(id, TcpEntry::new(node, ipv6));
        id
    }

    pub(crate) fn tcp(&mut self, id: u64) -> Result<&mut TcpEntry, ErrorCode> {
        self.net.tcp.get_mut(id).ok_or(ErrorCode::InvalidState)
    }

    /// Whether `addr` clashes with a TCP socket bound on `node` (same
    /// family and port; the same address or a wildcard on either side),
    /// other than `except`. Closed sockets still in FIN or TIME-WAIT do not
    /// count. With `listening_only`, only a listener clashes: wasmtime-wasi
    /// sets `SO_REUSEADDR` on every TCP socket, and Linux then lets sockets
    /// share a port until one of them listens.
    fn tcp_in_use(&self, node: usize, addr: SocketAddr, except: u64, listening_only: bool) -> bool {
        self.net.tcp.on(node).any(|(id, s)| {
            id != except
                && !s.orphan
                && (!listening_only || matches!(s.phase, Phase::Listening { .. }))
                && s.bound.is_some_and(|b| {
                    b.is_ipv4() == addr.is_ipv4()
                        && b.port() == addr.port()
                        && (b.ip() == addr.ip()
                            || b.ip().is_unspecified()
                            || addr.ip().is_unspecified())
                })
        })
    }

    /// A free ephemeral TCP port for `ip` on `node`, drawn from the seed
    /// (from a generator of TCP's own: UDP's draws stay as they were).
    fn tcp_ephemeral(&mut self, node: usize, ip: IpAddr) -> Result<u16, ErrorCode> {
        let span = u32::from(EPHEMERAL.end() - EPHEMERAL.start()) + 1;
        let first = (self.net.tcp_ports.next_u32() % span) as u16;
        (0..span as u16)
            .map(|i| EPHEMERAL.start() + (first + i) % span as u16)
            .find(|&port| !self.tcp_in_use(node, SocketAddr::new(ip, port), u64::MAX, false))
            .ok_or(ErrorCode::AddressInUse)
    }

    /// `bind`, after the bindings' checks.
    pub(crate) fn tcp_bind(&mut self, id: u64, addr: SocketAddr) -> Result<(), ErrorCode> {
        let s = self.tcp(id)?;
        if s.bound.is_some() {
            return Err(ErrorCode::InvalidState);
        }
        let node = s.node;
        if !self.net.is_local(node, addr.ip()) {
            return Err(ErrorCode::AddressNotBindable);
        }
        let port = match addr.port() {
            0 => self.tcp_ephemeral(node, addr.ip())?,
            _ if self.tcp_in_use(node, addr, id, true) => return Err(ErrorCode::AddressInUse),
            port => port,
        };
        let bound = SocketAddr::new(addr.ip(), port);
        self.tcp(id)?.bound = Some(bound);
        self.record(node, id, EventKind::Bind, Detail::Addr(bound));
        Ok(())
    }

    /// Its local address: the connection's, else the bound one.
    pub(crate) fn tcp_local(&mut self, id: u64) -> Result<SocketAddr, ErrorCode> {
        let s = self.tcp(id)?;
        let (bound, stream, node) = (s.bound, s.stream(), s.node);
        let local = stream.and_then(|h| self.stack(node).sockets.get::<Socket>(h).local_endpoint());
        local
            .map(|ep| SocketAddr::new(ep.addr.into(), ep.port))
            .or(bound)
            .ok_or(ErrorCode::InvalidState)
    }

    /// The connection's peer.
    pub(crate) fn tcp_peer(&mut self, id: u64) -> Result<SocketAddr, ErrorCode> {
        let s = self.tcp(id)?;
        let (Phase::Connected(h), node) = (&s.phase, s.node) else {
            return Err(ErrorCode::InvalidState);
        };
        let h = *h;
        let remote = self.stack(node).sockets.get::<Socket>(h).remote_endpoint();
        remote
            .map(|ep| SocketAddr::new(ep.addr.into(), ep.port))
            .ok_or(ErrorCode::InvalidState)
    }

    /// `connect`: binds implicitly (the route's source address, an ephemeral
    /// port) and sends the SYN. Its outcome is [`Core::tcp_connected`]'s.
    pub(crate) fn tcp_connect(&mut self, id: u64, remote: SocketAddr) -> Result<(), ErrorCode> {
        let s = self.tcp(id)?;
        if !matches!(s.phase, Phase::Idle) {
            return Err(ErrorCode::InvalidState);
        }
        let (node, bound) = (s.node, s.bound);
        let ip = match bound {
            Some(b) if !b.ip().is_unspecified() => b.ip(),
            _ => self.net.source_ip(node, remote.ip()),
        };
        if ip.is_loopback() && !matches!(self.net.route(node, remote.ip()), Route::Loopback) {
            // Linux refuses to route a loopback source off the node (EINVAL).
            return Err(ErrorCode::InvalidArgument);
        }
        let port = match bound {
            Some(b) => b.port(),
            None => self.tcp_ephemeral(node, ip)?,
        };
        let local = SocketAddr::new(ip, port);
        let mut socket = self.tcp(id)?.opts.socket();
        let timeout = smoltcp::time::Duration::from_secs(CONNECT_TIMEOUT_SECS);
        socket.set_timeout(Some(timeout));
        let stack = self.stack(node);
        let h = stack.sockets.add(socket);
        let (sockets, cx) = stack.parts();
        if sockets
            .get_mut::<Socket>(h)
            .connect(cx, remote, local)
            .is_err()
        {
            sockets.remove(h);
            return Err(ErrorCode::InvalidArgument);
        }
        let s = self.tcp(id)?;
        s.bound.get_or_insert(local);
        s.phase = Phase::Connecting(h);
        self.record(node, id, EventKind::Connect, Detail::Pair(local, remote));
        self.pump(node);
        Ok(())
    }

    /// A connect's outcome: pending while the SYN is unanswered.
    pub(crate) fn tcp_connected(&mut self, id: u64) -> Poll<Result<(), ErrorCode>> {
        match self.tcp(id).map(|s| &s.phase) {
            Ok(Phase::Connecting(_)) => Poll::Pending,
            Ok(Phase::Connected(_)) => Poll::Ready(Ok(())),
            Ok(Phase::Failed(code)) => Poll::Ready(Err(*code)),
            Ok(_) => Poll::Ready(Err(ErrorCode::InvalidState)),
            Err(code) => Poll::Ready(Err(code)),
        }
    }

    /// `listen` on a bound socket, with a backlog of `backlog` connections.
    pub(crate) fn tcp_listen(&mut self, id: u64, backlog: u32) -> Result<(), ErrorCode> {
        let s = self.tcp(id)?;
        let (Phase::Idle, Some(bound), node) = (&s.phase, s.bound, s.node) else {
            return Err(ErrorCode::InvalidState);
        };
        // Sockets sharing a port (`SO_REUSEADDR`) may not both listen.
        if self.tcp_in_use(node, bound, id, true) {
            return Err(ErrorCode::AddressInUse);
        }
        let s = self.tcp(id)?;
        s.phase = Phase::Listening {
            backlog,
            pool: Vec::new(),
            ready: Default::default(),
        };
        let detail = Detail::Listen {
            addr: bound,
            backlog,
        };
        self.record(node, id, EventKind::Listen, detail);
        self.pump(node);
        Ok(())
    }

    /// A new backlog for a listening socket (Linux takes a second `listen`).
    pub(crate) fn tcp_set_backlog(&mut self, id: u64, value: u32) -> Result<(), ErrorCode> {
        let s = self.tcp(id)?;
        let node = s.node;
        if let Phase::Listening { backlog, .. } = &mut s.phase {
            *backlog = value;
        }
        self.pump(node);
        Ok(())
    }

    /// The next established connection of a listening socket, as a new
    /// socket's number; `None` when none waits.
    pub(crate) fn tcp_accept(&mut self, id: u64) -> Result<Option<u64>, ErrorCode> {
        let s = self.tcp(id)?;
        let Phase::Listening { ready, .. } = &mut s.phase else {
            return Err(ErrorCode::InvalidState);
        };
        let Some(h) = ready.pop_front() else {
            return Ok(None);
        };
        let (node, ipv6, opts) = (s.node, s.ipv6, s.opts.clone());
        let new = self.tcp_open(node, ipv6);
        let entry = self.tcp(new)?;
        entry.opts = opts;
        entry.phase = Phase::Connected(h);
        let local = self.tcp_local(new)?;
        self.tcp(new)?.bound = Some(local);
        let peer = self.tcp_peer(new)?;
        self.record(node, new, EventKind::Accept, Detail::Pair(peer, local));
        self.pump(node); // the backlog has room again
        Ok(Some(new))
    }

    /// Reads at most `max` bytes.
    pub(crate) fn tcp_read(&mut self, id: u64, max: usize) -> Read {
        let Ok(s) = self.tcp(id) else {
            return Read::End;
        };
        let (node, shut, error) = (s.node, s.read_shut, s.error);
        let Some(h) = s.stream().filter(|_| !shut) else {
            return Read::End;
        };
        let socket = self.stack(node).sockets.get_mut::<Socket>(h);
        if socket.can_recv() && max > 0 {
            let mut buf = vec![0; max.min(socket.recv_queue())];
            let n = socket.recv_slice(&mut buf).unwrap_or(0);
            buf.truncate(n);
            self.pump(node); // the window opened
            return Read::Data(buf);
        }
        if let Some(code) = error {
            if let Some(s) = self.net.tcp.get_mut(id) {
                s.read_shut = true;
            }
            return Read::Failed(code);
        }
        if socket.may_recv() {
            Read::WouldBlock
        } else {
            Read::End
        }
    }

    /// Whether a write would be taken now: `Ok(false)` while earlier bytes
    /// still wait for room in the send buffer (the peer does not read).
    pub(crate) fn tcp_writable(&mut self, id: u64) -> Result<bool, WriteError> {
        let s = self.tcp(id).map_err(|_| WriteError::Closed)?;
        if let Some(code) = s.error {
            return Err(WriteError::Failed(code));
        }
        let (node, empty) = (s.node, s.pending.is_empty());
        let Some(h) = s.stream().filter(|_| !s.fin_after_pending) else {
            return Err(WriteError::Closed);
        };
        let socket = self.stack(node).sockets.get::<Socket>(h);
        if !socket.may_send() {
            return Err(WriteError::Closed);
        }
        Ok(empty && socket.send_queue() < socket.send_capacity())
    }

    /// Hands `data` to the connection; what the send buffer has no room
    /// for is sent as room appears.
    pub(crate) fn tcp_write(&mut self, id: u64, data: &[u8]) -> Result<(), WriteError> {
        self.tcp_writable(id)?;
        let s = self.tcp(id).map_err(|_| WriteError::Closed)?;
        s.pending.extend(data);
        let node = s.node;
        self.pump(node);
        Ok(())
    }

    /// `shutdown`: reads end at once; writes end with a FIN once what was
    /// written is sent.
    pub(crate) fn tcp_shutdown(&mut self, id: u64, read: bool, write: bool) {
        if let Ok(s) = self.tcp(id) {
            s.read_shut |= read;
            s.fin_after_pending |= write;
            let node = s.node;
            self.pump(node);
        }
    }

    /// The socket's resource was dropped: a listener resets what it has not
    /// accepted; a connection sends what is written and a FIN, or a RST
    /// when received data was never read (as Linux does).
    pub(crate) fn tcp_close(&mut self, id: u64, reset: bool) {
        let Ok(s) = self.tcp(id) else {
            return;
        };
        s.orphan = true;
        s.fin_after_pending = true;
        let (node, handles, stream) = (s.node, s.handles(), s.stream());
        let detail = Detail::bound(s.bound);
        let sockets = &mut self.stack(node).sockets;
        for h in handles {
            let socket = sockets.get_mut::<Socket>(h);
            if reset || stream != Some(h) || socket.recv_queue() > 0 {
                socket.abort();
            }
        }
        self.record(node, id, EventKind::Close, detail);
        self.pump(node);
    }

    /// Whether the socket is ready for `what`; if not, the task is woken
    /// when its node's stack next changes.
    pub(crate) fn tcp_poll(&mut self, id: u64, what: Ready, cx: &mut Context<'_>) -> Poll<()> {
        let Ok(s) = self.tcp(id) else {
            return Poll::Ready(());
        };
        let (node, sent) = (s.node, s.pending.is_empty());
        let ready = match (what, &s.phase) {
            (Ready::Connect, phase) => !matches!(phase, Phase::Connecting(_)),
            (Ready::Accept, Phase::Listening { ready, .. }) => !ready.is_empty(),
            (Ready::Accept, _) => true,
            (Ready::Read, _) => !matches!(self.tcp_read_peek(id), Read::WouldBlock),
            (Ready::Write, _) => !matches!(self.tcp_writable(id), Ok(false)),
            (Ready::Sent, _) => sent || self.tcp_writable(id).is_err(),
        };
        if ready {
            return Poll::Ready(());
        }
        self.stack(node).wait(cx.waker());
        Poll::Pending
    }

    /// What a read would find, without reading.
    fn tcp_read_peek(&mut self, id: u64) -> Read {
        let Ok(s) = self.tcp(id) else {
            return Read::End;
        };
        let (node, error) = (s.node, s.error);
        let Some(h) = s.stream().filter(|_| !s.read_shut) else {
            return Read::End;
        };
        let socket = self.stack(node).sockets.get::<Socket>(h);
        match (socket.can_recv(), error, socket.may_recv()) {
            (true, _, _) => Read::Data(Vec::new()),
            (false, Some(code), _) => Read::Failed(code),
            (false, None, true) => Read::WouldBlock,
            (false, None, false) => Read::End,
        }
    }

    /// Changes a socket's options, on its live smoltcp sockets too.
    pub(crate) fn tcp_set_options(&mut self, id: u64, set: impl FnOnce(&mut TcpOptions)) {
        let Ok(s) = self.tcp(id) else {
            return;
        };
        set(&mut s.opts);
        let (node, opts, handles) = (s.node, s.opts.clone(), s.handles());
        let sockets = &mut self.stack(node).sockets;
        for h in handles {
            opts.apply(sockets.get_mut::<Socket>(h));
        }
    }
}
