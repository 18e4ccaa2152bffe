//! The fates of a client run that Ctrl-C cut short, read from what its
//! relay saw.
//!
//! A client reports its messages only when it returns, so a client stopped
//! mid-way leaves none of its own. Its relay, though, saw every datagram or
//! segment it carried, with the time it was read and when it was due at the
//! far end: that is enough to tell the fates already decided from those
//! still open.
//!
//! - UDP: a message whose reply the relay had delivered is `answered` (or
//!   `late`, if it came after the client's timeout), one whose request or
//!   reply the relay dropped is `lost` (nothing retries a datagram);
//!   matching a reply to its message needs numbered messages.
//! - TCP: a message is `answered` once the relay had delivered as many bytes
//!   back as were sent up to the end of its line (replies are taken to be as
//!   long as their messages, as an echo's are).
//! - Everything else (not sent yet, in flight, waiting) is `interrupted`.

use std::collections::BTreeMap;

use super::fates::{Fate, FateKind, RunId, due};
use super::plan::ClientNode;
use super::runner::ClientRun;
use crate::roles::Transport;
use socklab_relay::{Event, Key, LinkStats};

/// The fates of `run`'s messages, from its relay's stats.
pub fn fates(id: &RunId<'_>, node: &ClientNode, run: &ClientRun) -> Vec<Fate> {
    let messages = &node.spec.messages;
    let timeout_us = u64::from(node.spec.timeout_ms) * 1_000;
    // The relay stopped as its client ended.
    let now = run.relay_end_us();
    let decided: Vec<Decided> = match node.transport {
        Transport::Udp => udp(
            messages.len(),
            node.numbered,
            timeout_us,
            now,
            &run.relay_stats,
        ),
        Transport::Tcp => tcp(messages, timeout_us, now, &run.relay_stats),
    };
    decided
        .into_iter()
        .zip(messages)
        .enumerate()
        .map(|(i, (decided, message))| {
            let (fate, rtt_us, sent_at_us) =
                decided.unwrap_or((FateKind::Interrupted, None, u64::MAX));
            let sent_at = if sent_at_us == u64::MAX {
                run.ended_at_us
            } else {
                run.relay_zero_us + sent_at_us as f64
            };
            let bytes = message.len() as u64 + u64::from(node.transport == Transport::Tcp);
            Fate {
                repeat: id.repeat,
                client: id.client.to_string(),
                instance: id.instance,
                index: i + 1,
                seq: node.numbered.then_some(i as u64 + 1),
                fate,
                duplicated: false,
                reordered: false,
                rtt_us: rtt_us.map(|r| r as f64),
                sent_at_us: sent_at,
                bytes: if fate == FateKind::Answered {
                    2 * bytes
                } else {
                    bytes
                },
                error: None,
            }
        })
        .collect()
}

/// A decided fate: its kind, its RTT when answered, and when the relay read
/// the message (µs since the relay started); `None` while still open.
type Decided = Option<(FateKind, Option<u64>, u64)>;

fn udp(count: usize, numbered: bool, timeout_us: u64, now: u64, stats: &LinkStats) -> Vec<Decided> {
    let keyed = |events: &[Event]| -> BTreeMap<u64, Vec<Event>> {
        let mut by = BTreeMap::<u64, Vec<Event>>::new();
        for e in events {
            if let Key::Tag(n) | Key::Index(n) = e.key {
                by.entry(n).or_default().push(e.clone());
            }
        }
        by
    };
    let requests = keyed(&stats.to_server.events);
    let replies = keyed(&stats.to_client.events);
    (0..count as u64)
        .map(|i| {
            // Numbered messages are keyed by their number (from 1), others
            // by their index (from 0) among the client's datagrams.
            let key = if numbered { i + 1 } else { i };
            let request = requests.get(&key)?.first()?;
            let Some(_) = due(request) else {
                return Some((FateKind::Lost, None, request.at_us));
            };
            if !numbered {
                // A reply's index says nothing once a datagram was lost.
                return None;
            }
            let reply = replies.get(&key)?;
            match reply.iter().filter_map(due).min() {
                Some(at) if at <= now => {
                    let rtt = at.saturating_sub(request.at_us);
                    let kind = if rtt <= timeout_us {
                        FateKind::Answered
                    } else {
                        FateKind::Late
                    };
                    Some((
                        kind,
                        (kind == FateKind::Answered).then_some(rtt),
                        request.at_us,
                    ))
                }
                Some(_) => None,
                None => Some((FateKind::Lost, None, request.at_us)),
            }
        })
        .collect()
}

fn tcp(messages: &[Vec<u8>], timeout_us: u64, now: u64, stats: &LinkStats) -> Vec<Decided> {
    // Bytes handed back to the client, by the time each became due.
    let mut back: Vec<(u64, u64)> = stats
        .to_client
        .events
        .iter()
        .filter_map(|e| match e.key {
            Key::Segment { offset, .. } => due(e)
                .filter(|at| *at <= now)
                .map(|at| (at, offset + e.bytes)),
            _ => None,
        })
        .collect();
    back.sort();
    let sent: Vec<(u64, u64)> = stats
        .to_server
        .events
        .iter()
        .filter_map(|e| match e.key {
            Key::Segment { offset, .. } => Some((offset, e.at_us)),
            _ => None,
        })
        .collect();
    let mut end = 0u64;
    messages
        .iter()
        .map(|m| {
            let start = end;
            end += m.len() as u64 + 1;
            // When the relay read the segment holding the line's first byte.
            let read_at = sent
                .iter()
                .filter(|(offset, _)| *offset <= start)
                .map(|(_, at)| *at)
                .max()?;
            let answered_at = back
                .iter()
                .find(|(_, delivered)| *delivered >= end)
                .map(|(at, _)| *at)?;
            let rtt = answered_at.saturating_sub(read_at);
            let kind = if rtt <= timeout_us {
                FateKind::Answered
            } else {
                FateKind::Late
            };
            Some((kind, (kind == FateKind::Answered).then_some(rtt), read_at))
        })
        .collect()
}
