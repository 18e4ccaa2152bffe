//! The event log as the network keeps it: each event's numbers (its node's
//! index, addresses, sizes, a TCP header), made into a [`LogEvent`]'s
//! strings only when the log is read ([`Handle::events`]) or written
//! ([`Handle::write_jsonl`]). Formatting and copying two strings for every
//! event as it happened was most of the simulated network's own time
//! (`perf`: `malloc`/`free`, `memmove` and `fmt::write` under `record`).
//!
//! [`Handle::events`]: crate::Handle::events
//! [`Handle::write_jsonl`]: crate::Handle::write_jsonl

use std::fmt::{self, Write as _};
use std::net::SocketAddr;

use super::tcp::segment::Segment;
use crate::log::{EventKind, LogEvent};

/// Room for most details' text at once (a TCP segment between IPv4
/// addresses takes about 60 bytes), so that the string is not grown.
const DETAIL_ROOM: usize = 64;

/// One event, kept.
pub(crate) struct Record {
    pub(crate) at_micros: u64,
    /// The node's index, whose name the event shows.
    pub(crate) node: usize,
    pub(crate) socket: u64,
    pub(crate) kind: EventKind,
    pub(crate) detail: Detail,
}

/// What an event's `detail` says, as numbers; [`fmt::Display`] writes the
/// text the log shows.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Detail {
    /// `10.0.0.1:4000`: a bind, a UDP connect or disconnect, a close.
    Addr(SocketAddr),
    /// `unbound`: a socket closed before it was bound.
    Unbound,
    /// `10.0.0.1:4000 -> 10.0.0.2:7, 64 B`: a datagram.
    Datagram {
        src: SocketAddr,
        dst: SocketAddr,
        len: u64,
    },
    /// `from 10.0.0.1:4000, 64 B`: a datagram taken from a receive queue.
    From { src: SocketAddr, len: u64 },
    /// `10.0.0.1:40000 -> 10.0.0.2:7`: a TCP connect's or accept's ends.
    Pair(SocketAddr, SocketAddr),
    /// `10.0.0.2:7, backlog 128`: a listen.
    Listen { addr: SocketAddr, backlog: u32 },
    /// A TCP segment, as [`Segment`] shows it.
    Segment(Segment),
}

impl Detail {
    /// A bound address, or `unbound`.
    pub(crate) fn bound(bound: Option<SocketAddr>) -> Detail {
        bound.map_or(Detail::Unbound, Detail::Addr)
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Detail::Addr(addr) => write!(f, "{addr}"),
            Detail::Unbound => f.write_str("unbound"),
            Detail::Datagram { src, dst, len } => write!(f, "{src} -> {dst}, {len} B"),
            Detail::From { src, len } => write!(f, "from {src}, {len} B"),
            Detail::Pair(a, b) => write!(f, "{a} -> {b}"),
            Detail::Listen { addr, backlog } => write!(f, "{addr}, backlog {backlog}"),
            Detail::Segment(seg) => write!(f, "{seg}"),
        }
    }
}

impl Record {
    /// The event as the log's readers see it, on the node called `node`.
    pub(crate) fn event(&self, node: &str) -> LogEvent {
        LogEvent {
            at_micros: self.at_micros,
            node: node.to_owned(),
            socket: self.socket,
            kind: self.kind,
            detail: {
                let mut text = String::with_capacity(DETAIL_ROOM);
                let _ = write!(text, "{}", self.detail);
                text
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn details_read_as_the_log_always_wrote_them() {
        let (a, b) = (addr("10.0.0.1:4000"), addr("[fd00::2]:7"));
        let cases = [
            (Detail::Addr(a), "10.0.0.1:4000"),
            (Detail::bound(None), "unbound"),
            (Detail::bound(Some(b)), "[fd00::2]:7"),
            (
                Detail::Datagram {
                    src: a,
                    dst: b,
                    len: 64,
                },
                "10.0.0.1:4000 -> [fd00::2]:7, 64 B",
            ),
            (Detail::From { src: a, len: 0 }, "from 10.0.0.1:4000, 0 B"),
            (Detail::Pair(b, a), "[fd00::2]:7 -> 10.0.0.1:4000"),
            (
                Detail::Listen {
                    addr: a,
                    backlog: 128,
                },
                "10.0.0.1:4000, backlog 128",
            ),
        ];
        for (detail, text) in cases {
            assert_eq!(detail.to_string(), text);
        }
    }
}
