//! The event log: every bind, connect, send, arrival, receive, drop (with
//! its cause) and close on the simulated network, in simulated-time order,
//! and its JSON Lines form. TCP adds listen, accept, each segment a node
//! sends (a retransmission as `retransmit`: the same `seq` again), each RST
//! a connection receives (`reset`); a segment lost on a link is a `drop`
//! with its cause, like a datagram. [`first_divergence`] says where two
//! runs' logs part.

use std::io::{self, Write};

use serde::Serialize;

/// One thing that happened to one socket.
///
/// In JSON: `{"at_micros":…,"node":…,"socket":…,"kind":"drop","cause":"loss","detail":…}`
/// (`cause` only on drops).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogEvent {
    /// Simulated time, in microseconds.
    pub at_micros: u64,
    /// The node where it happened (for a drop on the way, the sender's).
    pub node: String,
    /// The socket concerned, numbered from 1 in creation order across the
    /// world: the sender's for sends and drops on the way, the receiver's
    /// for arrivals, receives and drops at a full receive queue. For a TCP
    /// segment, the sending socket: a listener's until `accept` numbers the
    /// connection, 0 for the RST a node sends for no socket.
    pub socket: u64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
    /// Addresses and sizes, for a reader: `10.0.0.1:5000 -> 10.0.0.2:7, 5 B`.
    pub detail: String,
}

/// What happened to a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// The socket was bound (explicitly or on its first use).
    Bind,
    /// `stream` with a remote address: the socket's default peer was set.
    Connect,
    /// `stream` without a remote address on a connected socket.
    Disconnect,
    /// The guest handed a datagram to the network.
    Send,
    /// A datagram reached a socket's receive queue.
    Arrive,
    /// The guest read a datagram from its receive queue.
    Receive,
    /// A datagram was lost, and why.
    Drop {
        /// Why.
        cause: DropCause,
    },
    /// The socket was closed (its resource dropped).
    Close,
    /// A TCP socket started listening (`detail`: address and backlog).
    Listen,
    /// A TCP listener's connection was accepted (`detail`: peer -> local);
    /// `socket` is the new connection's number.
    Accept,
    /// A TCP segment left its node: `src -> dst [flags] seq=… ack=… len=…`.
    Segment,
    /// A TCP segment that repeats sequence space its flow sent before (a
    /// retransmission after a timeout or a duplicate ACK), same detail.
    Retransmit,
    /// A TCP connection received a RST (`detail`: the RST segment): its
    /// connect fails with `connection-refused`, its reads and writes with
    /// `connection-reset`.
    Reset,
}

/// Why a datagram was not delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropCause {
    /// The link's `loss` impairment.
    Loss,
    /// The link's queue (`queue_limit`) was full.
    LinkQueueFull,
    /// The link's `corrupt` flipped a bit on the way, and the receiving
    /// node's UDP or TCP checksum dropped the packet (logged when it
    /// arrives, as a drop on the way: the sender's node and socket).
    Corrupt,
    /// No socket is bound to the destination (or the one there is connected
    /// to another peer); on a connected sender this also sets
    /// `connection-refused`, as the ICMP error would.
    NoListener,
    /// The destination address belongs to no node.
    NoRoute,
    /// The receiving socket's queue held `receive-buffer-size` bytes already.
    ReceiveQueueFull,
    /// The receiving guest's grants refuse datagrams from this source
    /// (dropped silently, as wasmtime-wasi does).
    Refused,
    /// The receiving socket is connected to another peer: discarded when
    /// read, as wasmtime-wasi's stream does.
    NotConnectedPeer,
    /// A SYN found its listener's backlog full: dropped, as Linux drops it
    /// (the client retransmits the SYN).
    ListenQueueFull,
}

/// Writes `events` as JSON Lines: one object per line, in order.
pub fn write_jsonl(events: &[LogEvent], out: &mut impl Write) -> io::Result<()> {
    for event in events {
        serde_json::to_writer(&mut *out, event)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

impl EventKind {
    /// Its name in the JSON Lines, with a drop's cause: `send`,
    /// `drop (loss)`.
    pub fn name(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or_default();
        let kind = value["kind"].as_str().unwrap_or_default();
        match value["cause"].as_str() {
            Some(cause) => format!("{kind} ({cause})"),
            None => kind.to_owned(),
        }
    }
}

impl std::fmt::Display for LogEvent {
    /// `at 1200 us on patient, socket 3: send 10.0.0.2:4000 -> 10.0.0.1:7, 64 B`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "at {} us on {}, socket {}: {} {}",
            self.at_micros,
            self.node,
            self.socket,
            self.kind.name(),
            self.detail
        )
    }
}

/// Where two runs' event logs part: the first event (from 0) they do not
/// share, and what each run logged there (`None`: its log had ended).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The event's position in both logs, from 0.
    pub index: usize,
    /// The first run's event there.
    pub first: Option<LogEvent>,
    /// The second run's.
    pub second: Option<LogEvent>,
}

/// Where `first` and `second` part, or `None` when they are equal: what
/// `socklab lab --check-determinism` names when one seed gave two runs.
pub fn first_divergence(first: &[LogEvent], second: &[LogEvent]) -> Option<Divergence> {
    let index = (0..first.len().max(second.len())).find(|&i| first.get(i) != second.get(i))?;
    Some(Divergence {
        index,
        first: first.get(index).cloned(),
        second: second.get(index).cloned(),
    })
}

impl std::fmt::Display for Divergence {
    /// `event 12: run 1 at … ; run 2 at …`, on one line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |e: &Option<LogEvent>| {
            e.as_ref()
                .map_or_else(|| "no event (its log ended)".to_owned(), |e| e.to_string())
        };
        write!(
            f,
            "event {}: run 1 {}; run 2 {}",
            self.index + 1,
            show(&self.first),
            show(&self.second)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at_micros: u64, socket: u64, kind: EventKind, detail: &str) -> LogEvent {
        LogEvent {
            at_micros,
            node: "patient".into(),
            socket,
            kind,
            detail: detail.into(),
        }
    }

    #[test]
    fn logs_part_at_the_first_event_they_do_not_share() {
        let a = vec![
            event(0, 1, EventKind::Bind, "0.0.0.0:4000"),
            event(5, 1, EventKind::Send, "10.0.0.1:4000 -> 10.0.0.2:7, 3 B"),
            event(9, 1, EventKind::Close, "0.0.0.0:4000"),
        ];
        assert_eq!(first_divergence(&a, &a.clone()), None);
        let mut b = a.clone();
        b[1].kind = EventKind::Drop {
            cause: DropCause::Loss,
        };
        let d = first_divergence(&a, &b).expect("they part");
        assert_eq!((d.index, d.first.as_ref()), (1, Some(&a[1])));
        assert_eq!(
            d.to_string(),
            "event 2: run 1 at 5 us on patient, socket 1: send 10.0.0.1:4000 -> 10.0.0.2:7, 3 B; \
             run 2 at 5 us on patient, socket 1: drop (loss) 10.0.0.1:4000 -> 10.0.0.2:7, 3 B"
        );
        let shorter = &a[..2];
        let d = first_divergence(&a, shorter).expect("one ended");
        assert_eq!((d.index, &d.second), (2, &None));
        assert!(d.to_string().ends_with("run 2 no event (its log ended)"));
    }

    #[test]
    fn drops_serialise_flat_with_their_cause() {
        let event = LogEvent {
            at_micros: 7,
            node: "a".into(),
            socket: 1,
            kind: EventKind::Drop {
                cause: DropCause::NoListener,
            },
            detail: "x".into(),
        };
        let mut out = Vec::new();
        write_jsonl(&[event], &mut out).expect("in memory");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "{\"at_micros\":7,\"node\":\"a\",\"socket\":1,\"kind\":\"drop\",\"cause\":\"no-listener\",\"detail\":\"x\"}\n"
        );
    }
}
