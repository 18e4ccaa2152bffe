//! Each node's smoltcp `Interface` (`Medium::Ip`), driven by simulated time,
//! and the IP packets between them.
//!
//! A node's stack is made on its first TCP use. Its addresses are the node's
//! IPv4 and IPv6 ones plus `127.0.0.1` and `::1`. [`Core::pump`] polls it
//! until it is quiet, feeding it one arriving packet per poll (so that a
//! listener's pool is refilled between two SYNs), and then sets a timer at
//! smoltcp's `poll_at`: retransmissions, delayed ACKs and TIME-WAIT run in
//! simulated time. Every packet a node sends goes through [`Core::emit`],
//! which logs it and routes it as a UDP datagram is routed: to the node
//! itself at once, across the configured link (with its draws) or
//! [`DEFAULT_LATENCY`], or nowhere (dropped and logged).

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::task::Waker;

use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use socklab_relay::{Direction, Fate};

use super::segment::Segment;
use crate::core::{Core, Timer, TimerKey};
use crate::log::{DropCause, EventKind};
use crate::net::DEFAULT_LATENCY;
use crate::net::checksum;
use crate::net::link::{Arrival, dir};
use crate::net::record::Detail;
use crate::net::world::Route;
use crate::random::derive;
use crate::time::micros;

/// The MTU of an interface whose links set none: Ethernet's (a Linux
/// loopback has 65 536).
const MTU: usize = 1500;

/// Most polls one pump makes before it lets time move: a bound on a bug's
/// loop, far above what a burst of loopback packets needs.
const MAX_ROUNDS: usize = 100_000;

/// One node's TCP/IP stack.
pub(crate) struct Stack {
    iface: Interface,
    /// Its interface's MTU: [`MTU`], or its links' smallest.
    mtu: usize,
    pub(crate) sockets: SocketSet<'static>,
    /// Packets that arrived and wait for the next poll.
    rx: VecDeque<Vec<u8>>,
    /// The timer set at smoltcp's `poll_at`.
    timer: Option<TimerKey>,
    /// Tasks waiting for any socket of this node to change; all woken after
    /// each pump, each re-checking its own condition.
    waiters: Vec<Waker>,
    /// Per flow (source, destination): where the highest segment sent so far
    /// ended, to tell a retransmission from new data.
    sent: BTreeMap<(SocketAddr, SocketAddr), u32>,
}

/// An IP packet on its way across a link.
pub(crate) struct IpFlight {
    to_node: usize,
    data: Vec<u8>,
    link: Option<(String, Direction)>,
    /// The link flipped a bit of `data`: the sender's node, socket and the
    /// segment's detail, for the drop the receiver's checksum makes.
    damaged: Option<Box<(usize, u64, Detail)>>,
}

/// smoltcp's view of the wire during one poll: at most one packet in, any
/// number out.
struct Wire<'a> {
    rx: Option<Vec<u8>>,
    tx: &'a mut Vec<Vec<u8>>,
    mtu: usize,
}

struct Rx(Vec<u8>);
struct Tx<'a>(&'a mut Vec<Vec<u8>>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = vec![0; len];
        let out = f(&mut packet);
        self.0.push(packet);
        out
    }
}

impl Device for Wire<'_> {
    type RxToken<'b>
        = Rx
    where
        Self: 'b;
    type TxToken<'b>
        = Tx<'b>
    where
        Self: 'b;

    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx<'_>)> {
        let packet = self.rx.take()?;
        Some((Rx(packet), Tx(self.tx)))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
        Some(Tx(self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        caps
    }
}

/// Simulated microseconds as smoltcp's time.
pub(crate) fn instant(now: u64) -> Instant {
    Instant::from_micros(i64::try_from(now).unwrap_or(i64::MAX))
}

impl Stack {
    /// A node's stack. smoltcp draws its initial sequence numbers from
    /// `Config::random_seed`, here derived from the world's seed and the
    /// node's name, so a seed replays every segment.
    fn new(seed: u64, name: &str, addrs: [IpAddr; 2], now: u64, mtu: usize) -> Stack {
        let mut config = Config::new(HardwareAddress::Ip);
        let digest = derive(seed, name, "tcp-stack");
        config.random_seed = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
        let mut tx = Vec::new();
        let mut wire = Wire {
            rx: None,
            tx: &mut tx,
            mtu,
        };
        let mut iface = Interface::new(config, &mut wire, instant(now));
        // The network routes to a node only what is addressed to it (its
        // addresses and its loopback, all of 127.0.0.0/8), so the interface
        // takes every packet it is given: a socket bound to 127.0.0.3
        // works as on Linux.
        iface.set_any_ip(true);
        iface.update_ip_addrs(|ips| {
            let loopback = [
                IpAddr::from([127, 0, 0, 1]),
                std::net::Ipv6Addr::LOCALHOST.into(),
            ];
            for ip in addrs.into_iter().chain(loopback) {
                let prefix = if ip.is_ipv4() { 8 } else { 128 };
                let _ = ips.push(IpCidr::new(IpAddress::from(ip), prefix));
            }
        });
        Stack {
            iface,
            mtu,
            sockets: SocketSet::new(Vec::new()),
            rx: VecDeque::new(),
            timer: None,
            waiters: Vec::new(),
            sent: BTreeMap::new(),
        }
    }

    /// Its sockets and smoltcp's context, for `connect`.
    pub(crate) fn parts(&mut self) -> (&mut SocketSet<'static>, &mut smoltcp::iface::Context) {
        (&mut self.sockets, self.iface.context())
    }

    /// Whether `seg` repeats sequence space this flow sent already; notes
    /// how far the flow has sent.
    fn is_retransmit(&mut self, seg: &Segment) -> bool {
        let len = seg.seq_len();
        if len == 0 {
            return false;
        }
        let end = seg.seq.wrapping_add(len);
        let key = (seg.src, seg.dst);
        let again = match self.sent.get(&key) {
            // Sequence numbers compare modulo 2^32 (RFC 793).
            Some(&high) => (seg.seq.wrapping_sub(high) as i32) < 0,
            None => false,
        };
        let high = self.sent.entry(key).or_insert(end);
        if (end.wrapping_sub(*high) as i32) > 0 {
            *high = end;
        }
        again
    }

    /// Registers a task to wake after the next pump of this node.
    pub(crate) fn wait(&mut self, waker: &Waker) {
        if !self.waiters.iter().any(|w| w.will_wake(waker)) {
            self.waiters.push(waker.clone());
        }
    }
}

impl Core {
    /// Node `node`'s stack, made on first use.
    pub(crate) fn stack(&mut self, node: usize) -> &mut Stack {
        let (seed, now) = (self.net.seed, self.now);
        let net = &mut self.net;
        net.stacks.entry(node).or_insert_with(|| {
            let info = &net.nodes[node];
            // Its TCP fits the smallest MTU of its links, as if path MTU
            // discovery had run (or its own link were that small).
            let mtu = net
                .links
                .range((node, 0)..=(node, usize::MAX))
                .filter_map(|(_, l)| l.link.models.mtu)
                .min()
                .unwrap_or(MTU);
            Stack::new(seed, &info.name, [info.v4.into(), info.v6.into()], now, mtu)
        })
    }

    /// Polls `node`'s stack until it has nothing more to do now, routes what
    /// it sends, sets its timer and wakes its waiting tasks.
    pub(crate) fn pump(&mut self, node: usize) {
        let now = instant(self.now);
        for _ in 0..MAX_ROUNDS {
            let stack = self.stack(node);
            let packet = stack.rx.pop_front();
            let mut tx = Vec::new();
            let mut wire = Wire {
                rx: packet,
                tx: &mut tx,
                mtu: stack.mtu,
            };
            stack.iface.poll(now, &mut wire, &mut stack.sockets);
            let changed = self.settle(node);
            let mut touched = false;
            for packet in tx {
                touched |= self.emit(node, packet);
            }
            // smoltcp's poll sends until a pass over the sockets sends
            // nothing, so another poll at the same time would send nothing
            // either unless something changed since: a packet to take in, a
            // socket settled, or one failed by its own packet. (Polling
            // again anyway cost a pass over every socket of the node: with
            // 1,000 connections on a server, a third of its time.)
            if !changed && !touched && self.stack(node).rx.is_empty() {
                break;
            }
        }
        self.reschedule(node);
        for waker in std::mem::take(&mut self.stack(node).waiters) {
            waker.wake();
        }
    }

    /// Sets `node`'s timer at smoltcp's next `poll_at` (at least 1 µs on, so
    /// that time moves).
    fn reschedule(&mut self, node: usize) {
        let now = self.now;
        let stack = self.stack(node);
        let at = stack.iface.poll_at(instant(now), &stack.sockets);
        let due = at.map(|at| (at.total_micros().max(0) as u64).max(now + 1));
        let old = stack.timer;
        if old.map(|k| k.0) == due {
            return;
        }
        if let Some(key) = old {
            self.cancel_timer(key);
        }
        let key = due.map(|due| self.add_timer(due, Timer::Stack(node)));
        self.stack(node).timer = key;
    }

    /// `node`'s timer fired.
    pub(crate) fn stack_due(&mut self, node: usize) {
        self.stack(node).timer = None;
        self.pump(node);
    }

    /// Where every IP packet leaves a node: logged (as a segment or a
    /// retransmission), then routed. True when routing it changed one of
    /// the node's sockets (a SYN to no node fails its connect).
    pub(crate) fn emit(&mut self, node: usize, packet: Vec<u8>) -> bool {
        let Some(seg) = Segment::parse(&packet) else {
            return false; // smoltcp sends nothing but TCP here
        };
        let socket = self.tcp_owner(node, seg.src, seg.dst);
        let kind = if self.stack(node).is_retransmit(&seg) {
            EventKind::Retransmit
        } else {
            EventKind::Segment
        };
        let detail = Detail::Segment(seg);
        self.record(node, socket, kind, detail);
        if let Some(capture) = &mut self.capture {
            capture.record(self.now, &packet);
        }
        match self.net.route(node, seg.dst.ip()) {
            Route::Loopback => {
                // Its own node's `rx`, which the pump checks.
                if self.tcp_admit(node, &seg) {
                    self.stack(node).rx.push_back(packet);
                }
            }
            Route::Link { to } => self.cross_ip(node, to, socket, seg, packet, detail),
            Route::Nowhere => {
                self.record_drop(node, socket, DropCause::NoRoute, detail);
                if seg.is_open() {
                    self.tcp_unreachable(socket);
                    return true;
                }
            }
        }
        false
    }

    /// Puts a packet on the link `from → to`, with that link's draws.
    fn cross_ip(
        &mut self,
        from: usize,
        to: usize,
        socket: u64,
        seg: Segment,
        data: Vec<u8>,
        detail: Detail,
    ) {
        let now = self.now;
        let mut flight = IpFlight {
            to_node: to,
            data,
            link: None,
            damaged: None,
        };
        let Some(link) = self.net.links.get_mut(&(from, to)) else {
            let due = now + micros(DEFAULT_LATENCY);
            self.add_timer(due, Timer::Ip(Box::new(flight)));
            return;
        };
        let seed = self.net.seed;
        let (_, stats) = self
            .net
            .stats
            .get_mut(&link.link.name)
            .expect("every configured link has stats");
        let (due, dropped) = link.impair_tcp(seed, stats, now, seg.src, &flight.data);
        flight.link = Some((link.link.name.clone(), link.direction));
        match dropped {
            Some(Fate::Lost) => self.record_drop(from, socket, DropCause::Loss, detail),
            Some(_) => self.record_drop(from, socket, DropCause::LinkQueueFull, detail),
            None => {}
        }
        for Arrival { at, flip } in due {
            let mut copy = IpFlight {
                data: flight.data.clone(),
                link: flight.link.clone(),
                damaged: None,
                ..flight
            };
            if let Some(at) = flip {
                checksum::damage(&mut copy.data, at);
                copy.damaged = Some(Box::new((from, socket, detail)));
            }
            self.add_timer(at, Timer::Ip(Box::new(copy)));
        }
    }

    /// A packet reaches its node across a link.
    pub(crate) fn ip_arrive(&mut self, flight: IpFlight) {
        if let Some((name, direction)) = &flight.link
            && let Some((_, stats)) = self.net.stats.get_mut(name)
        {
            let s = dir(stats, *direction);
            s.pending = s.pending.saturating_sub(1);
            s.delivered += 1;
            s.delivered_bytes += flight.data.len() as u64;
        }
        let node = flight.to_node;
        if let Some(sent) = &flight.damaged
            && !checksum::intact(&flight.data)
        {
            if let Some((name, direction)) = &flight.link
                && let Some((_, stats)) = self.net.stats.get_mut(name)
            {
                dir(stats, *direction).corrupted += 1;
            }
            let (from, socket, detail) = **sent;
            return self.record_drop(from, socket, DropCause::Corrupt, detail);
        }
        if let Some(seg) = Segment::parse(&flight.data)
            && !self.tcp_admit(node, &seg)
        {
            return;
        }
        self.stack(node).rx.push_back(flight.data);
        self.pump(node);
    }
}
