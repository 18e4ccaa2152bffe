//! What a relay counted: per direction, per datagram or segment, and the
//! legs (client ↔ relay, relay ↔ server) it carried.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::draw::{Direction, Key};

/// The most events one direction keeps; later ones are only counted in
/// [`DirStats::events_dropped`], so a long run cannot grow without bound.
pub const MAX_EVENTS: usize = 65_536;

/// A snapshot of what a relay has done. Durations are integer microseconds
/// (fields suffixed `_us`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LinkStats {
    /// Client → server.
    pub to_server: DirStats,
    /// Server → client.
    pub to_client: DirStats,
    /// One leg pair per TCP connection or UDP client, in the order they
    /// started.
    pub legs: Vec<Leg>,
    /// TCP connections the relay reset because of `reset_after`.
    pub resets: u64,
    /// TCP connections that one peer reset or broke (a read or write error),
    /// passed on to the other peer as a reset.
    pub peer_resets: u64,
    /// TCP clients whose connection to the server failed; the relay closed
    /// them with a reset.
    pub connect_failures: u64,
}

/// What happened in one direction.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DirStats {
    /// Datagrams (UDP) or segments (TCP, after slicing) the relay read.
    pub received: u64,
    /// Payload bytes the relay read.
    pub received_bytes: u64,
    /// Datagrams or segments written to the far end, duplicates included.
    pub delivered: u64,
    /// Payload bytes written to the far end, duplicates included.
    pub delivered_bytes: u64,
    /// UDP: datagrams dropped by `loss`. TCP: transmissions "lost", each of
    /// which became a retransmission after a timeout.
    pub lost: u64,
    /// TCP: retransmissions (equal to `lost`). UDP: always 0.
    pub retransmissions: u64,
    /// UDP: datagrams dropped because the queue was full (a duplicate copy
    /// that does not fit counts too). TCP: always 0 (the relay stops
    /// reading instead).
    pub rate_dropped: u64,
    /// UDP: extra copies made by `duplicate`.
    pub duplicated: u64,
    /// UDP: datagrams held back by `reorder`.
    pub reordered: u64,
    /// TCP: stalls applied (at most one per connection).
    pub stalls: u64,
    /// UDP: datagrams the operating system refused to send, or dropped
    /// because no upstream socket could be opened for their client. TCP:
    /// writes that failed (the connection is then reset).
    pub send_errors: u64,
    /// Datagrams or segments read but not yet delivered or dropped; after
    /// [`crate::Relay::stop`], those the stop dropped.
    pub pending: u64,
    /// One entry per datagram or segment read, in the order read, up to
    /// [`MAX_EVENTS`].
    pub events: Vec<Event>,
    /// Events not kept because `events` was full.
    pub events_dropped: u64,
    /// Simulated network only: runs of consecutive datagrams or segments
    /// lost by `loss_burst` (Gilbert–Elliott); each of them is in `lost`
    /// too. Left out of the JSON when 0, so that the relays' reports and
    /// existing experiments' reports stay as they were.
    #[serde(skip_serializing_if = "is_zero")]
    pub loss_bursts: u64,
    /// Simulated network only: copies that crossed with a bit flipped by
    /// `corrupt`, which the receiver's checksum dropped (each is in
    /// `delivered` too: the link carried it). Left out when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub corrupted: u64,
    /// Simulated network only: UDP datagrams over the link's `mtu`, which
    /// crossed as IP fragments (one lost fragment loses the datagram, in
    /// `lost`). Left out when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub fragmented: u64,
}

/// Whether a counter is 0 (serde's `skip_serializing_if` takes a function):
/// a counter only some runs have stays out of the others' JSON.
pub fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The fate of one datagram or segment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// When the relay read it, in microseconds since the relay started.
    pub at_us: u64,
    /// Its key in the draw.
    pub key: Key,
    /// Its payload length in bytes.
    pub bytes: u64,
    /// What was decided for it, in the order decided.
    pub fates: Vec<Fate>,
    /// How long after `at_us` it was scheduled for delivery, in microseconds
    /// (the first copy, for a duplicated datagram). 0 for a dropped one.
    pub delay_us: u64,
}

/// One decision about a datagram or segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    /// Scheduled for delivery.
    Delivered,
    /// UDP: dropped by `loss`.
    Lost,
    /// UDP: dropped because the queue was full.
    RateDropped,
    /// UDP: delivered twice.
    Duplicated,
    /// UDP: held back by `reorder_delay`.
    Reordered,
    /// TCP: transmission `attempt` (0 = the first) was lost and the segment
    /// was sent again after a retransmission timeout.
    Retransmitted {
        /// Which transmission was lost, from 0.
        attempt: u32,
    },
    /// TCP: held back by the stall.
    Stalled,
    /// TCP: the connection is reset after this segment.
    Reset,
    /// Simulated network only: this copy crosses with a bit flipped, and the
    /// receiver's checksum drops it.
    Corrupted,
    /// Simulated network only: over the link's MTU, it crosses as IP
    /// fragments.
    Fragmented,
}

/// The two legs of one TCP connection or UDP client through the relay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Leg {
    /// The client's address (the source of its datagrams or connection).
    pub client: SocketAddr,
    /// The relay's address the client reached.
    pub relay: SocketAddr,
    /// The local address of the relay's own socket towards the server.
    pub upstream: SocketAddr,
    /// The server's address.
    pub server: SocketAddr,
}

/// The shared, locked stats of one relay, and the clock its events use.
#[derive(Clone)]
pub(crate) struct Recorder {
    stats: Arc<Mutex<LinkStats>>,
    start: Instant,
}

impl Recorder {
    pub(crate) fn new() -> Recorder {
        Recorder {
            stats: Arc::new(Mutex::new(LinkStats::default())),
            start: Instant::now(),
        }
    }

    /// The stats, locked. A panic elsewhere while locked leaves counters
    /// that are still worth reading, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, LinkStats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn snapshot(&self) -> LinkStats {
        self.lock().clone()
    }

    /// When the relay started.
    pub(crate) fn start(&self) -> Instant {
        self.start
    }

    /// Microseconds from the relay's start to `at`.
    pub(crate) fn micros_since_start(&self, at: Instant) -> u64 {
        micros(at.saturating_duration_since(self.start))
    }

    /// Runs `f` on one direction's stats.
    pub(crate) fn dir<R>(&self, d: Direction, f: impl FnOnce(&mut DirStats) -> R) -> R {
        let mut stats = self.lock();
        f(match d {
            Direction::ToServer => &mut stats.to_server,
            Direction::ToClient => &mut stats.to_client,
        })
    }
}

impl DirStats {
    /// Keeps `event`, or counts it as dropped when [`MAX_EVENTS`] are kept.
    pub(crate) fn push_event(&mut self, event: Event) {
        if self.events.len() < MAX_EVENTS {
            self.events.push(event);
        } else {
            self.events_dropped += 1;
        }
    }

    /// Counts one delivered datagram or segment of `bytes` bytes.
    pub(crate) fn count_delivery(&mut self, bytes: usize) {
        self.delivered += 1;
        self.delivered_bytes += bytes as u64;
    }
}

/// Whole microseconds of `d`, saturating.
pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_serialise_with_integer_microseconds_and_snake_case_names() {
        let mut stats = LinkStats::default();
        stats.to_server.push_event(Event {
            at_us: 1500,
            key: Key::Segment {
                connection: 0,
                offset: 100,
            },
            bytes: 10,
            fates: vec![Fate::Retransmitted { attempt: 0 }, Fate::Delivered],
            delay_us: 200_000,
        });
        let json = serde_json::to_value(&stats).expect("serialisable");
        assert_eq!(
            json["to_server"]["events"][0],
            serde_json::json!({
                "at_us": 1500,
                "key": {"segment": {"connection": 0, "offset": 100}},
                "bytes": 10,
                "fates": [{"retransmitted": {"attempt": 0}}, "delivered"],
                "delay_us": 200000,
            })
        );
        assert_eq!(json["to_client"]["rate_dropped"], 0);
    }
}
