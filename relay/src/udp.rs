//! The UDP relay: one socket the clients send to, one upstream socket per
//! client source address (so the server sees the relay as its peer), and per
//! direction a delay line that delivers each datagram at its drawn time.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::draw::{Direction, Key, draw};
use crate::impair::UdpImpairments;
use crate::relay::{Base, LinkSpec, Relay, Tasks};
use crate::schedule::{Pacer, delay_line, jitter};
use crate::stats::{Event, Fate, Leg, micros};

/// Largest UDP payload read.
const MAX_DATAGRAM: usize = 65_536;

/// A datagram on its way out.
#[derive(Clone)]
struct Outgoing {
    /// The socket it leaves by: an upstream socket (connected to the
    /// server) or the relay's own (towards `client`).
    socket: Arc<UdpSocket>,
    /// The client it belongs to.
    client: SocketAddr,
    payload: Vec<u8>,
}

/// One direction of the link.
struct Way {
    direction: Direction,
    impair: UdpImpairments,
    pacer: Mutex<Pacer>,
    line: mpsc::UnboundedSender<(Instant, Outgoing)>,
}

/// What every task of one UDP relay shares.
struct Link {
    base: Base,
    to_server: Way,
    to_client: Way,
}

/// Starts a UDP relay: datagrams sent to [`Relay::addr`] go to
/// `spec.server` from an upstream socket of their own per client address,
/// and the server's replies to that socket come back to the client from
/// [`Relay::addr`], each impaired as its direction says.
///
/// # Errors
/// - `InvalidInput`: an impairment is nonsense (see
///   [`UdpImpairments::validate`]).
/// - whatever binding `spec.listen` returns (`AddrInUse`, …).
pub async fn start_udp(spec: LinkSpec<UdpImpairments>) -> io::Result<Relay> {
    let socket = Arc::new(UdpSocket::bind(spec.listen).await?);
    let (base, to_server, to_client) = spec.split(UdpImpairments::validate)?;
    let base = base.bound(socket.local_addr()?);
    let relay = base.handle();
    let tasks = base.tasks.clone();
    let (to_server, to_server_line) = way(Direction::ToServer, to_server);
    let (to_client, to_client_line) = way(Direction::ToClient, to_client);
    let link = Arc::new(Link {
        base,
        to_server,
        to_client,
    });
    for (direction, rx) in [
        (Direction::ToServer, to_server_line),
        (Direction::ToClient, to_client_line),
    ] {
        let link = link.clone();
        tasks.spawn(delay_line(rx, async move |out: Outgoing| {
            link.deliver(direction, out).await
        }));
    }
    tasks.spawn(from_clients(link, socket, tasks.clone()));
    Ok(relay)
}

fn way(
    direction: Direction,
    impair: UdpImpairments,
) -> (Way, mpsc::UnboundedReceiver<(Instant, Outgoing)>) {
    let (line, rx) = mpsc::unbounded_channel();
    let pacer = Mutex::new(Pacer::new(impair.rate));
    let way = Way {
        direction,
        impair,
        pacer,
        line,
    };
    (way, rx)
}

/// The client side: reads every datagram sent to the relay, opens an
/// upstream socket for each new client address, and sends the datagram on
/// towards the server.
async fn from_clients(link: Arc<Link>, socket: Arc<UdpSocket>, tasks: Tasks) {
    // Per client: its upstream socket and the index of its next datagram.
    let mut clients: HashMap<SocketAddr, (Arc<UdpSocket>, u64)> = HashMap::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (n, client) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(e) if transient(&e) => continue,
            Err(_) => return,
        };
        let (upstream, index) = match clients.entry(client) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => {
                let Ok(upstream) = link.open_upstream(client).await else {
                    link.base
                        .recorder
                        .dir(Direction::ToServer, |s| s.send_errors += 1);
                    continue;
                };
                tasks.spawn(from_server(
                    link.clone(),
                    upstream.clone(),
                    socket.clone(),
                    client,
                ));
                new.insert((upstream, 0))
            }
        };
        let key = Key::for_datagram(&buf[..n], *index);
        *index += 1;
        let out = Outgoing {
            socket: upstream.clone(),
            client,
            payload: buf[..n].to_vec(),
        };
        link.impair(&link.to_server, key, out);
    }
}

/// The server side of one client: reads the server's replies on that
/// client's upstream socket and sends them on towards the client.
async fn from_server(
    link: Arc<Link>,
    upstream: Arc<UdpSocket>,
    socket: Arc<UdpSocket>,
    client: SocketAddr,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut index = 0u64;
    loop {
        let n = match upstream.recv(&mut buf).await {
            Ok(n) => n,
            Err(e) if transient(&e) => continue,
            Err(_) => return,
        };
        let key = Key::for_datagram(&buf[..n], index);
        index += 1;
        let out = Outgoing {
            socket: socket.clone(),
            client,
            payload: buf[..n].to_vec(),
        };
        link.impair(&link.to_client, key, out);
    }
}

/// Errors after which a UDP socket still works: an ICMP "port unreachable"
/// for an earlier datagram, reported on a later call.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
    )
}

impl Link {
    /// A socket of the server's family on an ephemeral port, connected to the
    /// server, recorded as a new leg for `client`.
    async fn open_upstream(&self, client: SocketAddr) -> io::Result<Arc<UdpSocket>> {
        let any = match self.base.server.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let upstream = UdpSocket::bind(SocketAddr::new(any, 0)).await?;
        upstream.connect(self.base.server).await?;
        let leg = Leg {
            client,
            relay: self.base.listen,
            upstream: upstream.local_addr()?,
            server: self.base.server,
        };
        self.base.recorder.lock().legs.push(leg);
        Ok(Arc::new(upstream))
    }

    /// Draws the fate of one datagram, counts it, and queues its copies.
    fn impair(&self, way: &Way, key: Key, out: Outgoing) {
        let now = Instant::now();
        let i = &way.impair;
        let draw = |purpose| draw(self.base.seed, &self.base.name, way.direction, key, purpose);
        let lost = draw("loss") < i.loss;
        let reordered = draw("reorder") < i.reorder;
        let duplicated = draw("duplicate") < i.duplicate;
        let len = out.payload.len();
        let mut event = Event {
            at_us: self.base.recorder.micros_since_start(now.into_std()),
            key,
            bytes: len as u64,
            fates: Vec::new(),
            delay_us: 0,
        };
        let mut queued = Vec::new();
        self.base.recorder.dir(way.direction, |s| {
            s.received += 1;
            s.received_bytes += len as u64;
            if lost {
                s.lost += 1;
                event.fates.push(Fate::Lost);
                s.push_event(event);
                return;
            }
            let mut pacer = way.pacer.lock().unwrap_or_else(|e| e.into_inner());
            let copies: &[&str] = if duplicated {
                &["jitter", "duplicate/jitter"]
            } else {
                &["jitter"]
            };
            for (copy, purpose) in copies.iter().enumerate() {
                if s.pending >= i.queue_limit as u64 {
                    s.rate_dropped += 1;
                    event.fates.push(Fate::RateDropped);
                    continue;
                }
                let mut due = pacer.transmit(now, len) + i.delay + jitter(i.jitter, draw(purpose));
                if copy == 0 {
                    if reordered {
                        due += i.reorder_delay;
                        s.reordered += 1;
                        event.fates.push(Fate::Reordered);
                    }
                    event.fates.push(Fate::Delivered);
                    event.delay_us = micros(due - now);
                } else {
                    s.duplicated += 1;
                    event.fates.push(Fate::Duplicated);
                }
                s.pending += 1;
                queued.push(due);
            }
            // Pushed inside the lock, so the event order is the read order.
            s.push_event(event);
        });
        for due in queued {
            // The delay line ends only when the relay stops, and then nothing
            // is delivered any more: a copy it refuses stays pending.
            let _ = way.line.send((due, out.clone()));
        }
    }

    /// Sends one datagram at its due time, counts it, and records it in the
    /// capture as going between the client and the server.
    async fn deliver(&self, direction: Direction, out: Outgoing) {
        let sent = match direction {
            Direction::ToServer => out.socket.send(&out.payload).await,
            Direction::ToClient => out.socket.send_to(&out.payload, out.client).await,
        };
        self.base.recorder.dir(direction, |s| {
            s.pending -= 1;
            match sent {
                Ok(_) => s.count_delivery(out.payload.len()),
                Err(_) => s.send_errors += 1,
            }
        });
        if let (Ok(_), Some(capture)) = (sent, &self.base.capture) {
            let (src, dst) = match direction {
                Direction::ToServer => (out.client, self.base.server),
                Direction::ToClient => (self.base.server, out.client),
            };
            capture.udp(src, dst, &out.payload);
        }
    }
}
