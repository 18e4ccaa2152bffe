//! The readable summary of a lab run: what ran, the servers, the first
//! links (their legs and what their relays did), the figures per transport
//! and the lessons.

use std::fmt::Write as _;

use super::runner::{ClientRun, LabRun};
use super::summary::{Document, TransportFigures, ms, plural};
use crate::roles::Transport;

/// Links shown one by one; report.json has every one.
const SHOWN: usize = 8;

/// The readable summary.
pub fn summary(run: &LabRun, doc: &Document<'_>) -> String {
    let mut out = String::new();
    let e = &doc.experiment;
    let rounds = if e.repeats == 1 {
        "1 round".to_string()
    } else {
        format!("{} rounds", e.repeats)
    };
    let _ = writeln!(
        out,
        "experiment {:?} ({}, sha256 {}), seed {}, {rounds}, {:.2} s",
        e.name,
        e.file,
        &e.sha256[..12],
        e.seed,
        e.elapsed_ms / 1e3
    );
    if run.interrupted {
        let _ = writeln!(
            out,
            "interrupted: the report holds the {} that finished",
            plural(run.clients.len() as u64, "client run", "client runs")
        );
    }
    for s in doc.servers {
        let at = s.listening.map_or("-".into(), |a| a.to_string());
        let _ = writeln!(
            out,
            "server {} on {at}{}",
            s.guest.name,
            failure(&s.guest.error, &s.guest.stderr)
        );
    }
    for c in run.clients.iter().take(SHOWN) {
        write_link(&mut out, c);
    }
    if run.clients.len() > SHOWN {
        let failed = run
            .clients
            .iter()
            .filter(|c| c.record.guest.error.is_some())
            .count();
        let _ = writeln!(
            out,
            "... and {} more links ({failed} of all clients failed; report.json has each)",
            run.clients.len() - SHOWN
        );
    }
    for tf in &doc.figures {
        let _ = writeln!(out, "{}", figures_line(tf));
    }
    for lesson in &doc.lessons {
        let _ = writeln!(out, "{lesson}");
    }
    out
}

/// A link: its two legs, what its relay did each way, and its client's
/// refusals or failure.
fn write_link(out: &mut String, c: &ClientRun) {
    let legs = c.relay_stats.legs.first().map_or_else(
        || format!("client → relay {} → server {}", c.relay, c.server_addr),
        |l| {
            format!(
                "client {} → relay {}; relay {} → server {}",
                l.client, l.relay, l.upstream, l.server
            )
        },
    );
    let _ = writeln!(out, "link {} ({}): {legs}", c.link, c.transport);
    for (dir, d) in [
        ("to server", &c.relay_stats.to_server),
        ("to client", &c.relay_stats.to_client),
    ] {
        let unit = if c.transport == Transport::Udp {
            "datagrams"
        } else {
            "segments"
        };
        let mut line = format!(
            "  {dir}: {} {unit} in, {} delivered",
            d.received, d.delivered
        );
        for (n, what) in [
            (d.lost * u64::from(c.transport == Transport::Udp), "dropped"),
            (d.retransmissions, "retransmitted"),
            (d.duplicated, "duplicated"),
            (d.reordered, "held back"),
            (d.rate_dropped, "dropped by the rate limit"),
            (d.stalls, "stalled"),
            (d.loss_bursts, "loss bursts"),
            (d.corrupted, "corrupted"),
            (d.fragmented, "fragmented"),
        ] {
            if n > 0 {
                let _ = write!(line, ", {n} {what}");
            }
        }
        let _ = writeln!(out, "{line}");
    }
    let g = &c.record.guest;
    if g.error.is_some() || g.refused_total > 0 {
        let _ = writeln!(
            out,
            "  client {}: {} refused{}",
            g.name,
            g.refused_total,
            failure(&g.error, &g.stderr)
        );
    }
}

/// One transport's counts and RTT figures.
fn figures_line(tf: &TransportFigures) -> String {
    let f = &tf.figures;
    let interrupted = if f.interrupted > 0 {
        format!(", {} interrupted", f.interrupted)
    } else {
        String::new()
    };
    format!(
        "{} {} messages: {} answered, {} late, {} lost{interrupted}; RTT p50 {} p90 {} p99 {} max {}; {:.0} msg/s, {:.1} kB/s",
        tf.transport,
        f.messages,
        f.answered,
        f.late,
        f.lost,
        opt_ms(f.rtt_p50_us),
        opt_ms(f.rtt_p90_us),
        opt_ms(f.rtt_p99_us),
        opt_ms(f.rtt_max_us),
        f.answered_per_s,
        f.bytes_per_s / 1e3,
    )
}

fn failure(error: &Option<String>, stderr: &Option<String>) -> String {
    match (error, stderr) {
        (Some(e), Some(s)) => format!(" — failed: {e}; stderr: {}", s.trim().replace('\n', " | ")),
        (Some(e), None) => format!(" — failed: {e}"),
        _ => String::new(),
    }
}

fn opt_ms(us: Option<f64>) -> String {
    us.map_or("-".into(), ms)
}
