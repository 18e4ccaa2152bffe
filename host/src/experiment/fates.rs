//! Each message's fate, as the client saw it, and the figures per transport.
//!
//! A client waits for one reply per message. With numbered messages the
//! reply names the message it answers, so a reply read while waiting for
//! another message is told apart:
//! - `answered`: its reply came while the client waited for it;
//! - `late`: its reply came, but only while the client waited for a later
//!   message (after its timeout, or queued behind a stray datagram);
//! - `lost`: no reply naming it ever reached the client;
//! - `failed`: the client could not send it.
//!
//! Two flags go on top: `duplicated` (its reply came more than once) and
//! `reordered` (its reply came after the reply to a later message).
//! Messages without numbers are `answered` when a complete reply came in
//! their window and `lost` otherwise.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Serialize;
use socklab_relay::{Event, Fate as RelayFate, Key, LinkStats};

use super::messages::seq_of;
use super::spread::{batch_range, nearest_rank, quantile_interval};
use crate::report::ReplyStatus::{Closed, Complete, SendFailed};
use crate::report::{MessageRecord, Payload};
use crate::roles::Transport;

/// What became of a message, as its client saw it.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FateKind {
    /// Its reply came while the client waited for it.
    Answered,
    /// Its reply came, but only while the client waited for a later message.
    Late,
    /// No reply naming it ever reached the client.
    Lost,
    /// The client could not send it.
    Failed,
    /// Ctrl-C stopped the client before its fate was decided.
    Interrupted,
}

/// One message's fate.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Fate {
    /// Which round (from 0).
    pub repeat: u32,
    /// The client node.
    pub client: String,
    /// Which copy of the client node (from 0).
    pub instance: u32,
    /// The message's place in the client's list (from 1).
    pub index: usize,
    /// Its sequence number, when the messages are numbered.
    pub seq: Option<u64>,
    /// `answered`, `late`, `lost`, `failed` or `interrupted`.
    pub fate: FateKind,
    /// Its reply came more than once.
    pub duplicated: bool,
    /// Its reply came after the reply to a later message.
    pub reordered: bool,
    /// Round-trip time, for answered messages.
    pub rtt_us: Option<f64>,
    /// Microseconds from the start of the experiment to the send.
    pub sent_at_us: f64,
    /// Bytes sent, plus the reply's bytes when answered.
    pub bytes: u64,
    /// Why a `failed` message could not be sent (the guest's words, such
    /// as `datagram-too-large`).
    pub error: Option<String>,
}

/// Where a client run sits, for its fates.
pub struct RunId<'a> {
    /// Which round (from 0).
    pub repeat: u32,
    /// The client node.
    pub client: &'a str,
    /// Which copy of the client node (from 0).
    pub instance: u32,
    /// Microseconds from the experiment's start to the client's start.
    pub started_at_us: f64,
}

/// What a UDP relay handed on to its client, by the number of the message
/// each reply answers: when each copy was due there (µs since the relay
/// started). Copies due after the client ended never reached it and are
/// left out.
///
/// A client that matches replies to messages by number skips a stale or
/// duplicate reply instead of reporting it; this is how its fates still
/// show a reply that came after its timeout (`late`), twice (`duplicated`)
/// or after a later one's (`reordered`).
#[derive(Debug, Default)]
pub struct Delivered {
    copies: BTreeMap<u64, Vec<u64>>,
}

impl Delivered {
    /// The replies `stats` says were handed to the client by `until_us`.
    pub fn of_udp(stats: &LinkStats, until_us: u64) -> Delivered {
        let mut copies = BTreeMap::<u64, Vec<u64>>::new();
        for event in &stats.to_client.events {
            let (Key::Tag(seq), Some(at)) = (event.key, due(event)) else {
                continue;
            };
            if at > until_us {
                continue;
            }
            let n = intact_copies(event);
            copies
                .entry(seq)
                .or_default()
                .extend(std::iter::repeat_n(at, n));
        }
        Delivered { copies }
    }

    fn count(&self, seq: u64) -> usize {
        self.copies.get(&seq).map_or(0, Vec::len)
    }

    fn first(&self, seq: u64) -> Option<u64> {
        self.copies.get(&seq)?.iter().min().copied()
    }

    /// Whether the reply to a later message reached the client first.
    fn overtaken(&self, seq: u64) -> bool {
        let Some(at) = self.first(seq) else {
            return false;
        };
        self.copies
            .range(seq + 1..)
            .any(|(_, times)| times.iter().any(|t| *t < at))
    }
}

/// When a relay event's datagram or segment was (or will be) handed to the
/// far end whole, if it was at all.
pub fn due(event: &Event) -> Option<u64> {
    (intact_copies(event) > 0).then_some(event.at_us + event.delay_us)
}

/// How many copies of an event's datagram reach the far end whole: each
/// `Delivered` or `Duplicated` is a copy, and a `Corrupted` right after one
/// means the receiver's checksum dropped it (simulated network).
fn intact_copies(event: &Event) -> usize {
    let fates = &event.fates;
    (0..fates.len())
        .filter(|&i| matches!(fates[i], RelayFate::Delivered | RelayFate::Duplicated))
        .filter(|&i| fates.get(i + 1) != Some(&RelayFate::Corrupted))
        .count()
}

/// The fates of one client run's messages, from its report and, for
/// numbered UDP messages, what its relay delivered.
pub fn fates_of(
    id: &RunId<'_>,
    numbered: bool,
    records: &[MessageRecord],
    delivered: &Delivered,
) -> Vec<Fate> {
    let replies: Vec<Option<u64>> = records
        .iter()
        .map(|r| {
            // Only a whole reply names a message: a line cut short by a
            // reset or a timeout is not an answer, even if it starts with a
            // number.
            let reply = bytes_of(r.reply.as_ref()?);
            let whole = r.status == Complete || (r.status == Closed && reply.ends_with(b"\n"));
            whole.then(|| seq_of(&reply)).flatten()
        })
        .collect();
    // Where each numbered reply was read: the windows it arrived in.
    let mut arrivals: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (window, seq) in replies.iter().enumerate() {
        if let Some(seq) = seq {
            arrivals.entry(*seq).or_default().push(window);
        }
    }
    let mut sent_at = id.started_at_us;
    let mut fates = Vec::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        let seq = numbered.then_some(i as u64 + 1);
        let answered_here = match seq {
            Some(seq) => replies[i] == Some(seq) && record.status == Complete,
            None => {
                record.status == Complete || (record.status == Closed && record.reply_bytes > 0)
            }
        };
        let seen = seq.and_then(|s| arrivals.get(&s));
        let copies = seq.map_or(0, |s| delivered.count(s));
        let fate = if record.status == SendFailed {
            FateKind::Failed
        } else if answered_here {
            FateKind::Answered
        } else if seen.is_some() || copies > 0 {
            FateKind::Late
        } else {
            FateKind::Lost
        };
        let reordered = match (seq, seen) {
            (Some(seq), Some(windows)) => replies[..windows[0]]
                .iter()
                .flatten()
                .any(|other| *other > seq),
            _ => false,
        } || seq.is_some_and(|s| delivered.overtaken(s));
        fates.push(Fate {
            repeat: id.repeat,
            client: id.client.to_string(),
            instance: id.instance,
            index: i + 1,
            seq,
            fate,
            duplicated: seen.is_some_and(|w| w.len() > 1) || copies > 1,
            reordered,
            rtt_us: answered_here.then_some(record.rtt_us),
            sent_at_us: sent_at,
            bytes: record.bytes_sent + if answered_here { record.reply_bytes } else { 0 },
            error: record.error.clone(),
        });
        sent_at += record.rtt_us;
    }
    fates
}

fn bytes_of(payload: &Payload) -> Vec<u8> {
    match payload {
        Payload::Text(t) => t.as_bytes().to_vec(),
        Payload::Base64(b) => base64::engine::general_purpose::STANDARD
            .decode(b)
            .unwrap_or_default(),
    }
}

/// The figures of one transport.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Figures {
    /// Messages sent (or meant to be).
    pub messages: usize,
    /// Answered while the client waited.
    pub answered: usize,
    /// Answered after the client stopped waiting.
    pub late: usize,
    /// Never answered.
    pub lost: usize,
    /// Not sent.
    pub failed: usize,
    /// Messages whose fate Ctrl-C left open.
    pub interrupted: usize,
    /// Whose reply came more than once.
    pub duplicated: usize,
    /// Whose reply came after a later one's.
    pub reordered: usize,
    /// Median RTT of answered messages, µs.
    pub rtt_p50_us: Option<f64>,
    /// 90th percentile RTT, µs.
    pub rtt_p90_us: Option<f64>,
    /// 99th percentile RTT, µs (nearest rank).
    pub rtt_p99_us: Option<f64>,
    /// Where the p99 could lie, given how many answers there were: a 99%
    /// interval from the order statistics (`[low, high]`). Two transports'
    /// p99s whose intervals overlap differ by no more than the run's own
    /// spread.
    pub rtt_p99_interval_us: Option<(f64, f64)>,
    /// How far the p99 moved during the run: the lowest and highest p99 of
    /// the answers cut, in the order they were sent, into up to
    /// [`BATCHES`](super::spread::BATCHES) batches of at least
    /// [`BATCH_MIN`](super::spread::BATCH_MIN) (none with fewer
    /// answers). The order statistics assume independent answers; a burst
    /// of load slows many at once, and shows here as one slow batch.
    pub rtt_p99_batches_us: Option<(f64, f64)>,
    /// Largest RTT, µs.
    pub rtt_max_us: Option<f64>,
    /// Answered messages per second of the time the clients ran.
    pub answered_per_s: f64,
    /// Bytes (sent and answered) per second of the time the clients ran.
    pub bytes_per_s: f64,
}

/// Count `fates` of one transport whose clients ran for `busy_s` seconds.
pub fn figures(fates: &[&Fate], busy_s: f64) -> Figures {
    let count = |f: FateKind| fates.iter().filter(|x| x.fate == f).count();
    // The RTTs in the order their messages were sent, then sorted.
    let mut sent: Vec<(f64, f64)> = fates
        .iter()
        .filter_map(|f| Some((f.sent_at_us, f.rtt_us?)))
        .collect();
    sent.sort_by(|a, b| a.0.total_cmp(&b.0));
    let by_send: Vec<f64> = sent.iter().map(|&(_, rtt)| rtt).collect();
    let mut rtts = by_send.clone();
    rtts.sort_by(f64::total_cmp);
    let pct = |p: f64| nearest_rank(&rtts, p / 100.0);
    let answered = count(FateKind::Answered);
    let bytes: u64 = fates.iter().map(|f| f.bytes).sum();
    let per_s = |x: f64| if busy_s > 0.0 { x / busy_s } else { 0.0 };
    Figures {
        messages: fates.len(),
        answered,
        late: count(FateKind::Late),
        lost: count(FateKind::Lost),
        failed: count(FateKind::Failed),
        interrupted: count(FateKind::Interrupted),
        duplicated: fates.iter().filter(|f| f.duplicated).count(),
        reordered: fates.iter().filter(|f| f.reordered).count(),
        rtt_p50_us: pct(50.0),
        rtt_p90_us: pct(90.0),
        rtt_p99_us: pct(99.0),
        rtt_p99_interval_us: quantile_interval(&rtts, 0.99),
        rtt_p99_batches_us: batch_range(&by_send, 0.99),
        rtt_max_us: rtts.last().copied(),
        answered_per_s: per_s(answered as f64),
        bytes_per_s: per_s(bytes as f64),
    }
}

/// The transports in the order reports list them.
pub const TRANSPORTS: [Transport; 2] = [Transport::Udp, Transport::Tcp];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ReplyStatus;

    fn record(status: ReplyStatus, reply: Option<&str>) -> MessageRecord {
        MessageRecord {
            message: Payload::Text(String::new()),
            bytes_sent: 10,
            status,
            reply: reply.map(|r| Payload::Text(r.into())),
            reply_bytes: reply.map_or(0, |r| r.len() as u64),
            rtt_us: 100.0,
            error: None,
            ok: true,
        }
    }

    #[test]
    fn replies_read_in_another_window_are_late_duplicated_or_reordered() {
        let id = RunId {
            repeat: 0,
            client: "c",
            instance: 0,
            started_at_us: 0.0,
        };
        let records = [
            record(Complete, Some("#000001 a")),
            record(ReplyStatus::Lost, None), // 2's reply did not come in time
            record(Complete, Some("#000002 a")), // ...it came while waiting for 3
            record(Complete, Some("#000004 a")),
            record(Complete, Some("#000004 a")), // a duplicate of 4; 5 never came
            record(Closed, Some("#000006 a")),   // cut short by a reset
        ];
        let fates = fates_of(&id, true, &records, &Delivered::default());
        let kinds: Vec<_> = fates.iter().map(|f| f.fate).collect();
        use FateKind::*;
        assert_eq!(kinds, [Answered, Late, Lost, Answered, Lost, Lost]);
        assert!(fates[3].duplicated && !fates[0].duplicated);
        assert!(!fates[1].reordered);
        let figures = figures(&fates.iter().collect::<Vec<_>>(), 1.0);
        assert_eq!((figures.answered, figures.late, figures.lost), (2, 1, 3));
        assert_eq!(figures.rtt_p50_us, Some(100.0));
    }
}
