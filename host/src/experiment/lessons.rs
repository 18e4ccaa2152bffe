//! The lesson of a lab run: one line per transport, saying what happened to
//! its messages (the plainest thing that went wrong first), how its p99 RTT
//! compares with the transport before it (only when the difference is more
//! than the run's own spread), and what the relays did that explains it.

use std::fmt::Write as _;

use super::fates::Figures;
use super::summary::{RelayTotals, TransportFigures, ms, plural};
use crate::roles::Transport;

/// How many times apart two p99 RTTs must be, besides lying outside each
/// other's interval, before a lesson calls them different: a steady 20%
/// between two sub-millisecond loopback paths is not what an experiment
/// teaches.
const LESSON_RATIO: f64 = 2.0;

/// One line per transport: what happened to its messages, compared.
pub fn lessons(all: &[TransportFigures]) -> Vec<String> {
    all.iter()
        .enumerate()
        .map(|(i, tf)| {
            let mut line = counts(tf);
            let earlier = all[..i].iter().find(|o| o.figures.rtt_p99_us.is_some());
            line.push_str(&comparison(&tf.figures, earlier));
            let causes = causes(tf.transport, &tf.relay);
            if !causes.is_empty() {
                let _ = write!(line, "; {}", causes.join("; "));
            }
            line
        })
        .collect()
}

/// `UDP: 21 of 40 replies lost, 19 answered, ...`: lost first, else late,
/// else the answered count, then the other counts that are not zero.
fn counts(tf: &TransportFigures) -> String {
    let f = &tf.figures;
    let name = tf.transport;
    let (lead, lead_count) = if f.lost > 0 {
        ("lost", f.lost)
    } else if f.late > 0 {
        ("late", f.late)
    } else {
        ("answered", f.answered)
    };
    let mut line = match lead {
        "answered" => format!("{name}: {} of {} answered", f.answered, f.messages),
        _ => format!("{name}: {lead_count} of {} replies {lead}", f.messages),
    };
    if lead != "answered" {
        line.push_str(&by_client(
            tf,
            |f| if lead == "lost" { f.lost } else { f.late },
        ));
    }
    let counts: [(usize, &str, Count); 6] = [
        (if lead == "lost" { f.late } else { 0 }, "late", |f| f.late),
        (
            if lead == "answered" { 0 } else { f.answered },
            "answered",
            |f| f.answered,
        ),
        (f.duplicated, "duplicated", |f| f.duplicated),
        (f.reordered, "reordered", |f| f.reordered),
        (f.failed, "not sent", |f| f.failed),
        (f.interrupted, "interrupted", |f| f.interrupted),
    ];
    for (n, what, of) in counts {
        if n > 0 {
            let _ = write!(line, ", {n} {what}{}", by_client(tf, of));
        }
    }
    line
}

/// Which count of a client node's figures.
type Count = fn(&Figures) -> usize;

/// ` (bursty-client 18, even-client 32)`: a count client node by client
/// node, when the transport has a few and the count differs among them.
fn by_client(tf: &TransportFigures, count: impl Fn(&Figures) -> usize) -> String {
    let counts: Vec<usize> = tf.by_client.iter().map(|(_, f)| count(f)).collect();
    if counts.windows(2).all(|w| w[0] == w[1]) {
        return String::new();
    }
    let each: Vec<String> = tf
        .by_client
        .iter()
        .zip(&counts)
        .map(|((name, _), n)| format!("{name} {n}"))
        .collect();
    format!(" ({})", each.join(", "))
}

/// `, p99 RTT 9173× higher than UDP's (6202 ms)`, `, p99 RTT about UDP's
/// (0.50 ms)`, or the p99 alone for the first transport.
fn comparison(f: &Figures, earlier: Option<&TransportFigures>) -> String {
    let Some(p99) = f.rtt_p99_us else {
        return String::new();
    };
    let Some(other) = earlier else {
        return format!(", p99 RTT {}", ms(p99));
    };
    if same_within_spread(f, &other.figures) {
        return format!(", p99 RTT about {}'s ({})", other.transport, ms(p99));
    }
    let ratio = p99 / other.figures.rtt_p99_us.unwrap_or(p99).max(1e-3);
    let (factor, word) = if ratio >= 1.0 {
        (ratio, "higher")
    } else {
        (1.0 / ratio, "lower")
    };
    let factor = if factor >= 10.0 {
        format!("{factor:.0}")
    } else {
        format!("{factor:.1}")
    };
    format!(
        ", p99 RTT {factor}× {word} than {}'s ({})",
        other.transport,
        ms(p99)
    )
}

/// What the relays did that explains the counts of `transport`.
fn causes(transport: Transport, r: &RelayTotals) -> Vec<String> {
    // On the simulated network the links themselves impair: no relay, and
    // what a TCP link drops are the stack's own segments, sent again.
    let simulated = crate::runtime::tasks::simulated();
    let relay = if simulated { "link" } else { "relay" };
    let tcp_on_sim = simulated && transport == Transport::Tcp;
    let mut causes = Vec::new();
    let (packet, packets) = match transport {
        Transport::Tcp => ("segment", "segments"),
        Transport::Udp => ("datagram", "datagrams"),
    };
    let bursts = match r.loss_bursts {
        0 => String::new(),
        n => format!(" (loss_burst: {})", plural(n, "burst", "bursts")),
    };
    if r.dropped > 0 && tcp_on_sim {
        causes.push(format!(
            "the link dropped {}{bursts}, and TCP sent each again",
            plural(r.dropped, packet, packets)
        ));
    } else if r.dropped > 0 {
        causes.push(format!(
            "the {relay} dropped {}{bursts}",
            plural(r.dropped, packet, packets)
        ));
    }
    if r.fragmented > 0 {
        causes.push(format!(
            "{} over the MTU crossed as fragments, each fragment lost on its own",
            plural(r.fragmented, packet, packets)
        ));
    }
    if r.corrupted > 0 {
        let again = if tcp_on_sim {
            ", and TCP sent each again"
        } else {
            ""
        };
        causes.push(format!(
            "the link corrupted {} and the receiver's checksum dropped them{again}",
            plural(r.corrupted, packet, packets)
        ));
    }
    if r.rate_dropped > 0 {
        causes.push(format!("{} dropped by the rate limit", r.rate_dropped));
    }
    if r.retransmitted > 0 {
        causes.push(format!(
            "{} delivered after a retransmission timeout",
            plural(r.retransmitted, "segment", "segments")
        ));
    }
    if r.resets > 0 {
        causes.push(plural(r.resets, "connection", "connections") + " reset");
    }
    // A TCP link on the simulated network still carries the connections'
    // closing segments when a client finishes: nothing held back.
    if r.in_flight > 0 && !tcp_on_sim {
        causes.push(format!(
            "{} still in the {relay} when the clients finished",
            r.in_flight
        ));
    }
    causes
}

/// Whether two transports' p99 RTTs are about the same: within the run's
/// own spread, or less than [`LESSON_RATIO`] apart. The spread of each is
/// its 99% interval (a handful of slow replies among a hundred is noise)
/// widened to the p99s of its batches (a burst of load that slowed one
/// stretch of the run is noise too: the lesson must hold all through it).
fn same_within_spread(a: &Figures, b: &Figures) -> bool {
    let (Some(pa), Some(pb)) = (a.rtt_p99_us, b.rtt_p99_us) else {
        return true;
    };
    let ratio = pa.max(pb) / pa.min(pb).max(1e-3);
    if ratio < LESSON_RATIO {
        return true;
    }
    match (spread(a), spread(b)) {
        (Some((a_low, a_high)), Some((b_low, b_high))) => a_low <= b_high && b_low <= a_high,
        _ => true,
    }
}

/// Where a transport's p99 could lie: its 99% interval, widened to the
/// p99s of its batches.
fn spread(f: &Figures) -> Option<(f64, f64)> {
    let (low, high) = f.rtt_p99_interval_us?;
    Some(match f.rtt_p99_batches_us {
        Some((b_low, b_high)) => (low.min(b_low), high.max(b_high)),
        None => (low, high),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::fates::{Fate, FateKind, figures};

    /// Answered fates with these RTTs (ms), sent 1 ms apart in this order.
    fn answered(rtts_ms: &[f64]) -> Figures {
        let fates: Vec<Fate> = rtts_ms
            .iter()
            .enumerate()
            .map(|(i, rtt)| Fate {
                repeat: 0,
                client: "c".into(),
                instance: 0,
                index: i + 1,
                seq: None,
                fate: FateKind::Answered,
                duplicated: false,
                reordered: false,
                rtt_us: Some(rtt * 1e3),
                sent_at_us: i as f64 * 1e3,
                bytes: 0,
                error: None,
            })
            .collect();
        figures(&fates.iter().collect::<Vec<_>>(), 1.0)
    }

    fn tf(transport: Transport, figures: Figures) -> TransportFigures {
        TransportFigures {
            transport,
            figures,
            relay: RelayTotals::default(),
            by_client: Vec::new(),
        }
    }

    /// 600 answers of 4 ms, but for `slow` of them (spread evenly, or all
    /// in one stretch) at `slow_ms`.
    fn run(slow: usize, slow_ms: f64, bunched: bool) -> Vec<f64> {
        let mut rtts = vec![4.0; 600];
        for k in 0..slow {
            let at = if bunched { 100 + k } else { k * 600 / slow };
            rtts[at] = slow_ms;
        }
        rtts
    }

    fn lesson_of_tcp(udp: &[f64], tcp: &[f64]) -> String {
        let all = [
            tf(Transport::Udp, answered(udp)),
            tf(Transport::Tcp, answered(tcp)),
        ];
        lessons(&all)[1].clone()
    }

    #[test]
    fn a_tail_all_through_the_run_is_a_lesson() {
        // 5% of TCP's answers waited for a retransmission, in every stretch.
        let lesson = lesson_of_tcp(&run(0, 0.0, false), &run(30, 200.0, false));
        assert!(lesson.contains("p99 RTT 50× higher than UDP's"), "{lesson}");
    }

    #[test]
    fn a_tail_from_one_burst_of_load_is_not() {
        // As many slow answers, all in one stretch of the run (a loaded
        // machine): the order statistics alone would call it 3× higher.
        let lesson = lesson_of_tcp(&run(0, 0.0, false), &run(30, 12.0, true));
        assert!(lesson.contains("p99 RTT about UDP's"), "{lesson}");
        let spread_out = lesson_of_tcp(&run(0, 0.0, false), &run(30, 12.0, false));
        assert!(spread_out.contains("3.0× higher"), "{spread_out}");
    }

    #[test]
    fn too_few_answers_for_batches_fall_back_on_the_interval() {
        let tcp = answered(&[200.0; 40]);
        assert_eq!(tcp.rtt_p99_batches_us, None);
        let lesson = lesson_of_tcp(&[4.0; 40], &[200.0; 40]);
        assert!(lesson.contains("50× higher"), "{lesson}");
    }
}
