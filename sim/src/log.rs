//! The event log: every bind, connect, send, arrival, receive, drop (with
//! its cause) and close on the simulated network, in simulated-time order,
//! and its JSON Lines form. TCP adds listen, accept, each segment a node
//! sends (a retransmission as `retransmit`: the same `seq` again), each RST
//! a connection receives (`reset`); a segment lost on a link is a `drop`
//! with its cause, like a datagram.

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

#[cfg(test)]
mod tests {
    use super::*;

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
