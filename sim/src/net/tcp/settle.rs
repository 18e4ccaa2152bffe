//! The bookkeeping socklab's layer does around each poll of a node's
//! smoltcp interface: what smoltcp itself has no notion of.
//!
//! After a poll ([`Core::settle`]): a connect that was answered becomes a
//! connection (or fails, with the reset, timeout or unreachable peer that
//! ended it); written bytes waiting for room move into send buffers; a
//! listener's established connections move to its accept queue and its
//! pool is refilled with one LISTEN socket per address, up to its backlog;
//! closed sockets the guest has dropped are forgotten.
//!
//! Before a packet reaches smoltcp ([`Core::tcp_admit`]): a RST is noted
//! as the error its socket will report, and a SYN to a listener whose
//! backlog is full is dropped, as Linux drops it (the client retries).

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::{Socket, State};
use smoltcp::wire::IpEndpoint;

use super::segment::Segment;
use super::stack::Stack;
use super::{Phase, TcpEntry};
use crate::bindings::sockets::network::ErrorCode;
use crate::core::Core;
use crate::log::{DropCause, EventKind};
use crate::net::record::Detail;

impl Core {
    /// Settles every TCP socket of `node` after a poll; true when it gave
    /// smoltcp something new to send.
    pub(crate) fn settle(&mut self, node: usize) -> bool {
        self.stack(node);
        let net = &mut self.net;
        let Some(stack) = net.stacks.get_mut(&node) else {
            return false;
        };
        let mut changed = false;
        let mut gone = Vec::new();
        for (id, entry) in net.tcp.on_mut(node) {
            if entry.settled() {
                continue;
            }
            let (more, done) = settle_one(entry, stack, &net.nodes[node]);
            changed |= more;
            if done {
                gone.push(id);
            }
        }
        for id in gone {
            net.tcp.remove(id);
        }
        changed
    }

    /// The socket of `node` whose connection is `local` ↔ `remote` (0 when
    /// none is: smoltcp's RST to a closed port).
    pub(crate) fn tcp_owner(&self, node: usize, local: SocketAddr, remote: SocketAddr) -> u64 {
        let Some(stack) = self.net.stacks.get(&node) else {
            return 0;
        };
        // Compared as smoltcp's endpoints (the two forms convert one to one),
        // the remote first: it tells a server's connections apart, and this
        // runs for every socket of the node for every packet it sends.
        let (local, remote) = (
            Some(IpEndpoint::from(local)),
            Some(IpEndpoint::from(remote)),
        );
        let matches = |h: SocketHandle| {
            let s = stack.sockets.get::<Socket>(h);
            s.remote_endpoint() == remote && s.local_endpoint() == local
        };
        self.net
            .tcp
            .on(node)
            .find(|(_, s)| s.owns(matches))
            .map_or(0, |(id, _)| id)
    }

    /// The SYN of socket `id` went to an address no node has: its connect
    /// fails with `remote-unreachable` (Linux's EHOSTUNREACH, at once
    /// rather than after ARP's 3 s).
    pub(crate) fn tcp_unreachable(&mut self, id: u64) {
        let Some(s) = self.net.tcp.get_mut(id) else {
            return;
        };
        if let (Phase::Connecting(h), node) = (&s.phase, s.node) {
            s.error = Some(ErrorCode::RemoteUnreachable);
            let h = *h;
            if let Some(stack) = self.net.stacks.get_mut(&node) {
                stack.sockets.get_mut::<Socket>(h).abort();
            }
        }
    }

    /// Whether `seg`, arriving at `node`, goes on to smoltcp.
    pub(crate) fn tcp_admit(&mut self, node: usize, seg: &Segment) -> bool {
        if seg.rst {
            self.note_reset(node, seg);
            return true;
        }
        if !seg.is_open() {
            return true;
        }
        let full = self.net.tcp.on(node).find(|(_, s)| {
            !s.orphan
                && matches!(s.phase, Phase::Listening { .. })
                && s.bound.is_some_and(|b| {
                    b.port() == seg.dst.port()
                        && b.is_ipv6() == seg.dst.is_ipv6()
                        && (b.ip().is_unspecified() || b.ip() == seg.dst.ip())
                })
        });
        let Some((id, listener)) = full else {
            return true;
        };
        let stack = self
            .net
            .stacks
            .get(&node)
            .expect("a listener's node has a stack");
        let listening = listener.handles().into_iter().any(|h| {
            let s = stack.sockets.get::<Socket>(h);
            s.state() == State::Listen
                && s.listen_endpoint().addr.map(IpAddr::from) == Some(seg.dst.ip())
        });
        if !listening {
            self.record_drop(node, id, DropCause::ListenQueueFull, Detail::Segment(*seg));
        }
        listening
    }

    /// A RST for one of `node`'s connections: the error it will report.
    fn note_reset(&mut self, node: usize, seg: &Segment) {
        let id = self.tcp_owner(node, seg.dst, seg.src);
        let Some(s) = self.net.tcp.get_mut(id) else {
            return;
        };
        let code = match s.phase {
            Phase::Connecting(_) => ErrorCode::ConnectionRefused,
            _ => ErrorCode::ConnectionReset,
        };
        if !s.orphan {
            s.error.get_or_insert(code);
        }
        self.record(node, id, EventKind::Reset, Detail::Segment(*seg));
    }
}

/// One socket after a poll: (whether smoltcp has something new to send,
/// whether the entry is gone).
fn settle_one(
    entry: &mut TcpEntry,
    stack: &mut Stack,
    info: &crate::net::world::NodeInfo,
) -> (bool, bool) {
    match entry.phase {
        Phase::Connecting(h) => {
            let socket = stack.sockets.get_mut::<Socket>(h);
            match socket.state() {
                State::SynSent | State::SynReceived => (false, false),
                State::Closed => {
                    stack.sockets.remove(h);
                    let code = entry.error.take().unwrap_or(ErrorCode::Timeout);
                    entry.phase = Phase::Failed(code);
                    (false, entry.orphan)
                }
                _ => {
                    socket.set_timeout(None);
                    entry.phase = Phase::Connected(h);
                    (flush(entry, stack, h), false)
                }
            }
        }
        Phase::Connected(h) => {
            let more = flush(entry, stack, h);
            let closed = stack.sockets.get::<Socket>(h).state() == State::Closed;
            if entry.orphan && closed {
                stack.sockets.remove(h);
                return (more, true);
            }
            (more, false)
        }
        Phase::Listening { .. } => settle_listener(entry, stack, info),
        Phase::Idle | Phase::Failed(_) => (false, entry.orphan),
    }
}

/// Moves written bytes into the send buffer, and sends the FIN once they
/// are all in. True when anything moved.
fn flush(entry: &mut TcpEntry, stack: &mut Stack, h: SocketHandle) -> bool {
    let socket = stack.sockets.get_mut::<Socket>(h);
    let mut moved = false;
    while socket.can_send() && !entry.pending.is_empty() {
        let n = socket.send_slice(entry.pending.as_slices().0).unwrap_or(0);
        if n == 0 {
            break;
        }
        entry.pending.drain(..n);
        moved = true;
    }
    if !socket.may_send() {
        entry.pending.clear(); // reset or closed: nowhere to go
    }
    let open = matches!(socket.state(), State::Established | State::CloseWait);
    if entry.fin_after_pending && entry.pending.is_empty() && open {
        socket.close();
        moved = true;
    }
    moved
}

/// A listener after a poll; see the module's doc.
fn settle_listener(
    entry: &mut TcpEntry,
    stack: &mut Stack,
    info: &crate::net::world::NodeInfo,
) -> (bool, bool) {
    let bound = entry.bound.expect("a listener is bound");
    let Phase::Listening {
        backlog,
        pool,
        ready,
    } = &mut entry.phase
    else {
        return (false, false);
    };
    let mut closed = Vec::new();
    pool.retain(|&h| match stack.sockets.get::<Socket>(h).state() {
        State::Listen | State::SynReceived => true,
        State::Closed => {
            closed.push(h);
            false
        }
        _ => {
            ready.push_back(h);
            false
        }
    });
    retain_open(ready, stack, &mut closed);
    for h in closed {
        stack.sockets.remove(h);
    }
    if entry.orphan {
        return (false, pool.is_empty() && ready.is_empty());
    }
    let state = |h: &SocketHandle| stack.sockets.get::<Socket>(*h).state();
    let half_open = pool.iter().filter(|h| state(h) != State::Listen).count();
    let queued = half_open + ready.len();
    let mut made = false;
    for ip in listen_ips(bound, info) {
        let listening = pool.iter().any(|h| {
            let s = stack.sockets.get::<Socket>(*h);
            s.state() == State::Listen && s.listen_endpoint().addr.map(IpAddr::from) == Some(ip)
        });
        if listening || queued >= *backlog as usize {
            continue;
        }
        let mut socket = entry.opts.socket();
        if socket.listen((ip, bound.port())).is_ok() {
            pool.push(stack.sockets.add(socket));
            made = true;
        }
    }
    (made, false)
}

/// Drops from the accept queue the connections reset before accept.
fn retain_open(ready: &mut VecDeque<SocketHandle>, stack: &Stack, closed: &mut Vec<SocketHandle>) {
    ready.retain(|&h| {
        let open = stack.sockets.get::<Socket>(h).state() != State::Closed;
        if !open {
            closed.push(h);
        }
        open
    });
}

/// The addresses a listener bound to `bound` listens on: the address
/// itself, or for a wildcard the node's own address and loopback of the
/// family (so that an IPv6 listener never takes an IPv4 SYN).
fn listen_ips(bound: SocketAddr, info: &crate::net::world::NodeInfo) -> Vec<IpAddr> {
    match bound.ip() {
        ip if !ip.is_unspecified() => vec![ip],
        IpAddr::V4(_) => vec![info.v4.into(), [127, 0, 0, 1].into()],
        IpAddr::V6(_) => vec![info.v6.into(), std::net::Ipv6Addr::LOCALHOST.into()],
    }
}
