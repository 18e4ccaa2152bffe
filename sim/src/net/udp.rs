//! What a simulated UDP socket does: bind, connect, send, arrive, receive,
//! close. The bindings (`crate::sockets::udp`) check the guest's arguments
//! and grants first, in wasmtime-wasi 48's order; these functions do what
//! the kernel would, and record every step in the event log.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::task::{Context, Poll, Waker};

use socklab_relay::{Direction, Fate};

use super::DEFAULT_LATENCY;
use super::checksum;
use super::link::{Arrival, dir};
use super::world::Route;
use crate::bindings::sockets::network::ErrorCode;
use crate::capture::udp_packet;
use crate::core::{Core, Timer};
use crate::log::{DropCause, EventKind};
use crate::net::record::{Detail, Record};
use crate::time::micros;

/// The buffer sizes a new socket reports: Linux's default 212 992 bytes,
/// halved as wasmtime-wasi halves what Linux reports.
pub(crate) const DEFAULT_BUFFER: u64 = 106_496;

/// The hop limit a new socket reports (Linux's default TTL).
pub(crate) const DEFAULT_HOP_LIMIT: u8 = 64;

/// One UDP socket as the network sees it.
pub(crate) struct UdpState {
    pub(crate) node: usize,
    pub(crate) ipv6: bool,
    /// The address it was bound to, its port resolved.
    pub(crate) bound: Option<SocketAddr>,
    /// When bound to the wildcard and connected: the source address the
    /// route to the peer chose, which then is its local address.
    conn_ip: Option<IpAddr>,
    pub(crate) remote: Option<SocketAddr>,
    queue: VecDeque<(Vec<u8>, SocketAddr)>,
    queued_bytes: u64,
    /// An error to report on the next receive with an empty queue
    /// (`connection-refused` after a datagram to no listener).
    error: Option<ErrorCode>,
    /// The task waiting for a datagram.
    reader: Option<Waker>,
    pub(crate) hop_limit: u8,
    pub(crate) receive_buffer: u64,
    pub(crate) send_buffer: u64,
}

/// A datagram on its way.
pub(crate) struct InFlight {
    from_socket: u64,
    from_node: usize,
    to_node: usize,
    src: SocketAddr,
    dst: SocketAddr,
    data: Vec<u8>,
    /// The configured link it crosses, whose stats count its arrival.
    link: Option<(String, Direction)>,
    /// Where the link flipped a bit of it, if it did: the receiver's
    /// checksum then drops it.
    flip: Option<f64>,
}

impl Core {
    /// A new unbound socket on `node`; its number.
    pub(crate) fn udp_open(&mut self, node: usize, ipv6: bool) -> u64 {
        let id = self.net.socket_number();
        let state = UdpState {
            node,
            ipv6,
            bound: None,
            conn_ip: None,
            remote: None,
            queue: VecDeque::new(),
            queued_bytes: 0,
            error: None,
            reader: None,
            hop_limit: DEFAULT_HOP_LIMIT,
            receive_buffer: DEFAULT_BUFFER,
            send_buffer: DEFAULT_BUFFER,
        };
        self.net.sockets.insert(id, state);
        id
    }

    pub(crate) fn udp(&mut self, id: u64) -> Result<&mut UdpState, ErrorCode> {
        self.net.sockets.get_mut(&id).ok_or(ErrorCode::InvalidState)
    }

    /// `bind`: the kernel's part, after the bindings' checks.
    pub(crate) fn udp_bind(&mut self, id: u64, addr: SocketAddr) -> Result<(), ErrorCode> {
        let s = self.udp(id)?;
        if s.bound.is_some() {
            return Err(ErrorCode::InvalidState);
        }
        let node = s.node;
        if !self.net.is_local(node, addr.ip()) {
            return Err(ErrorCode::AddressNotBindable);
        }
        let port = match addr.port() {
            0 => self
                .net
                .ephemeral_port(node, addr.ip())
                .ok_or(ErrorCode::AddressInUse)?,
            _ if self.net.in_use(node, addr) => return Err(ErrorCode::AddressInUse),
            port => port,
        };
        let bound = SocketAddr::new(addr.ip(), port);
        self.udp(id)?.bound = Some(bound);
        self.net.udp_bound.insert((node, port, id));
        self.record(node, id, EventKind::Bind, Detail::Addr(bound));
        Ok(())
    }

    /// The socket's local address (`invalid-state` when unbound).
    pub(crate) fn udp_local(&mut self, id: u64) -> Result<SocketAddr, ErrorCode> {
        let s = self.udp(id)?;
        let bound = s.bound.ok_or(ErrorCode::InvalidState)?;
        Ok(SocketAddr::new(
            s.conn_ip.unwrap_or(bound.ip()),
            bound.port(),
        ))
    }

    /// `connect`: sets the default peer and, on a wildcard socket, the
    /// source address the route to it picks.
    pub(crate) fn udp_connect(&mut self, id: u64, remote: SocketAddr) -> Result<(), ErrorCode> {
        let s = self.udp(id)?;
        let (node, bound) = (s.node, s.bound.ok_or(ErrorCode::InvalidState)?);
        let conn_ip = bound
            .ip()
            .is_unspecified()
            .then(|| self.net.source_ip(node, remote.ip()));
        let s = self.udp(id)?;
        s.conn_ip = conn_ip;
        s.remote = Some(remote);
        self.record(node, id, EventKind::Connect, Detail::Addr(remote));
        Ok(())
    }

    /// `connect(AF_UNSPEC)`: forgets the peer (`invalid-state` when none).
    pub(crate) fn udp_disconnect(&mut self, id: u64) -> Result<(), ErrorCode> {
        let s = self.udp(id)?;
        let remote = s.remote.take().ok_or(ErrorCode::InvalidState)?;
        s.conn_ip = None;
        let node = s.node;
        self.record(node, id, EventKind::Disconnect, Detail::Addr(remote));
        Ok(())
    }

    /// Hands `data` to the network towards `dst`. Succeeds when the
    /// datagram left, whatever becomes of it.
    pub(crate) fn udp_send(
        &mut self,
        id: u64,
        data: Vec<u8>,
        dst: SocketAddr,
    ) -> Result<(), ErrorCode> {
        let s = self.udp(id)?;
        let (node, conn_ip, hop_limit) = (s.node, s.conn_ip, s.hop_limit);
        let local = s.bound.ok_or(ErrorCode::InvalidState)?;
        if dst.is_ipv6() != s.ipv6 {
            return Err(ErrorCode::InvalidArgument);
        }
        // What IP can carry (EMSGSIZE): 65 535 minus the IP and UDP headers.
        let max = if s.ipv6 { 65_527 } else { 65_507 };
        if data.len() > max {
            return Err(ErrorCode::DatagramTooLarge);
        }
        let route = self.net.route(node, dst.ip());
        let src_ip = match (local.ip(), conn_ip) {
            (ip, _) if !ip.is_unspecified() => ip,
            (_, Some(ip)) => ip,
            _ => self.net.source_ip(node, dst.ip()),
        };
        if src_ip.is_loopback() && !matches!(route, Route::Loopback) {
            // Linux refuses to route a loopback source off the node (EINVAL).
            return Err(ErrorCode::InvalidArgument);
        }
        let src = SocketAddr::new(src_ip, local.port());
        let len = data.len() as u64;
        let detail = Detail::Datagram { src, dst, len };
        self.record(node, id, EventKind::Send, detail);
        let packet = self
            .capture
            .as_ref()
            .and_then(|_| udp_packet(src, dst, hop_limit, &data));
        let mut flight = InFlight {
            from_socket: id,
            from_node: node,
            to_node: node,
            src,
            dst,
            data,
            link: None,
            flip: None,
        };
        let copies = match route {
            Route::Nowhere => {
                self.record_drop(node, id, DropCause::NoRoute, detail);
                1
            }
            Route::Loopback => {
                self.arrive(flight);
                1
            }
            Route::Link { to } => {
                flight.to_node = to;
                self.cross(flight, detail)
            }
        };
        if let (Some(capture), Some(packet)) = (&mut self.capture, packet) {
            // Captured at the sender: a datagram the link drops was still
            // sent, once; one it duplicates went out as its copies.
            for _ in 0..copies.max(1) {
                capture.record(self.now, &packet);
            }
        }
        Ok(())
    }

    /// Puts `flight` on the link between its nodes: how many copies of it
    /// the link carries (none when it drops it).
    fn cross(&mut self, mut flight: InFlight, detail: Detail) -> usize {
        let now = self.now;
        let key = (flight.from_node, flight.to_node);
        let Some(link) = self.net.links.get_mut(&key) else {
            let due = now + micros(DEFAULT_LATENCY);
            self.add_timer(due, Timer::Arrive(Box::new(flight)));
            return 1;
        };
        let seed = self.net.seed;
        let (_, stats) = self
            .net
            .stats
            .get_mut(&link.link.name)
            .expect("every configured link has stats");
        let (due, dropped) = link.impair(seed, stats, now, flight.src, &flight.data);
        flight.link = Some((link.link.name.clone(), link.direction));
        let (node, id) = (flight.from_node, flight.from_socket);
        match dropped {
            Some(Fate::Lost) => self.record_drop(node, id, DropCause::Loss, detail),
            Some(_) => self.record_drop(node, id, DropCause::LinkQueueFull, detail),
            None => {}
        }
        let copies = due.len();
        for Arrival { at, flip } in due {
            let copy = InFlight {
                data: flight.data.clone(),
                link: flight.link.clone(),
                flip,
                ..flight
            };
            self.add_timer(at, Timer::Arrive(Box::new(copy)));
        }
        copies
    }

    /// A datagram reaches its destination node: into the queue of the
    /// socket bound there, or dropped.
    pub(crate) fn arrive(&mut self, flight: InFlight) {
        if let Some((name, direction)) = &flight.link
            && let Some((_, stats)) = self.net.stats.get_mut(name)
        {
            let s = dir(stats, *direction);
            s.pending = s.pending.saturating_sub(1);
            s.delivered += 1;
            s.delivered_bytes += flight.data.len() as u64;
        }
        let (src, dst, len) = (flight.src, flight.dst, flight.data.len() as u64);
        let detail = Detail::Datagram { src, dst, len };
        if !self.survives(&flight) {
            let (node, id) = (flight.from_node, flight.from_socket);
            return self.record_drop(node, id, DropCause::Corrupt, detail);
        }
        let (net, to_node) = (&self.net, flight.to_node);
        let accepts = |id: &u64| {
            net.sockets
                .get(id)
                .is_some_and(|s| s.accepts(to_node, dst, src))
        };
        let id = net.udp_bound_to(to_node, dst.port()).find(accepts);
        let to = id.and_then(|id| Some((id, self.net.sockets.get_mut(&id)?)));
        let Some((id, socket)) = to else {
            self.refuse(&flight);
            let (node, id) = (flight.from_node, flight.from_socket);
            return self.record_drop(node, id, DropCause::NoListener, detail);
        };
        let node = socket.node;
        if socket.queued_bytes + len > socket.receive_buffer {
            return self.record_drop(node, id, DropCause::ReceiveQueueFull, detail);
        }
        socket.queued_bytes += len;
        socket.queue.push_back((flight.data, src));
        if let Some(reader) = socket.reader.take() {
            reader.wake();
        }
        self.record(node, id, EventKind::Arrive, detail);
    }

    /// Whether the receiving node's UDP checksum passes `flight`: always,
    /// unless the link flipped a bit of it (then counted in `corrupted`).
    fn survives(&mut self, flight: &InFlight) -> bool {
        let Some(at) = flight.flip else {
            return true;
        };
        let mut packet = udp_packet(flight.src, flight.dst, 64, &flight.data).unwrap_or_default();
        checksum::damage(&mut packet, at);
        if checksum::intact(&packet) {
            // Only a flip that leaves IPv4's checksum field 0 ("none
            // computed") passes, and then the payload is whole.
            return true;
        }
        if let Some((name, direction)) = &flight.link
            && let Some((_, stats)) = self.net.stats.get_mut(name)
        {
            dir(stats, *direction).corrupted += 1;
        }
        false
    }

    /// The ICMP "port unreachable" a connected sender would get back: its
    /// next receive on an empty queue fails with `connection-refused`.
    fn refuse(&mut self, flight: &InFlight) {
        if let Some(sender) = self.net.sockets.get_mut(&flight.from_socket)
            && sender.remote == Some(flight.dst)
        {
            sender.error = Some(ErrorCode::ConnectionRefused);
            if let Some(reader) = sender.reader.take() {
                reader.wake();
            }
        }
    }

    /// Takes the next datagram `allow` accepts from the queue: `Ok(None)`
    /// when the queue is empty. Datagrams from another peer than
    /// `connected`, or refused by `allow`, are discarded (and logged).
    pub(crate) fn udp_recv(
        &mut self,
        id: u64,
        connected: Option<SocketAddr>,
        allow: &mut dyn FnMut(SocketAddr) -> bool,
    ) -> Result<Option<(Vec<u8>, SocketAddr)>, ErrorCode> {
        loop {
            let s = self.udp(id)?;
            let node = s.node;
            let Some((data, src)) = s.queue.pop_front() else {
                return s.error.take().map_or(Ok(None), Err);
            };
            s.queued_bytes -= data.len() as u64;
            let len = data.len() as u64;
            let detail = Detail::From { src, len };
            if connected.is_some_and(|peer| peer != src) {
                self.record_drop(node, id, DropCause::NotConnectedPeer, detail);
            } else if !allow(src) {
                self.record_drop(node, id, DropCause::Refused, detail);
            } else {
                self.record(node, id, EventKind::Receive, detail);
                return Ok(Some((data, src)));
            }
        }
    }

    /// Ready when a receive would not say `would-block`.
    pub(crate) fn udp_poll_recv(&mut self, id: u64, cx: &mut Context<'_>) -> Poll<()> {
        match self.net.sockets.get_mut(&id) {
            Some(s) if s.queue.is_empty() && s.error.is_none() => {
                s.reader = Some(cx.waker().clone());
                Poll::Pending
            }
            _ => Poll::Ready(()),
        }
    }

    /// The socket's resource was dropped.
    pub(crate) fn udp_close(&mut self, id: u64) {
        if let Some(s) = self.net.sockets.remove(&id) {
            if let Some(b) = s.bound {
                self.net.udp_bound.remove(&(s.node, b.port(), id));
            }
            self.record(s.node, id, EventKind::Close, Detail::bound(s.bound));
        }
    }

    /// Logs an event: kept as numbers, made into text when the log is read.
    pub(crate) fn record(&mut self, node: usize, socket: u64, kind: EventKind, detail: Detail) {
        self.log.push(Record {
            at_micros: self.now,
            node,
            socket,
            kind,
            detail,
        });
    }

    pub(crate) fn record_drop(
        &mut self,
        node: usize,
        socket: u64,
        cause: DropCause,
        detail: Detail,
    ) {
        self.record(node, socket, EventKind::Drop { cause }, detail);
    }
}

impl UdpState {
    /// Whether a datagram `src → dst` arriving on `node` is for this socket.
    fn accepts(&self, node: usize, dst: SocketAddr, src: SocketAddr) -> bool {
        let Some(bound) = self.bound else {
            return false;
        };
        self.node == node
            && self.ipv6 == dst.is_ipv6()
            && bound.port() == dst.port()
            && (bound.ip() == dst.ip() || bound.ip().is_unspecified())
            && self.conn_ip.is_none_or(|ip| ip == dst.ip())
            && self.remote.is_none_or(|peer| peer == src)
    }
}
