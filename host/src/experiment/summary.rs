//! A lab run's report: the readable summary (ending in one lesson line per
//! transport), the JSON document, the exit code.

use std::fmt::Write as _;

use serde::Serialize;

use super::fates::{Fate, Figures, TRANSPORTS, figures};
use super::runner::{ClientRun, LabRun};
use crate::report::{ServerRecord, Verdict};
use crate::roles::Transport;
use crate::version::{SOCKLAB_VERSION, WASMTIME_VERSION};

/// The JSON document of `socklab lab --json`, also written as `report.json`.
#[derive(Serialize)]
pub struct Document<'a> {
    pub socklab: &'static str,
    pub wasmtime: &'static str,
    pub experiment: Experiment<'a>,
    /// The lesson, one line per transport.
    pub lessons: Vec<String>,
    pub figures: Vec<TransportFigures>,
    pub servers: &'a [ServerRecord],
    pub clients: &'a [ClientRun],
    pub fates: &'a [Fate],
    /// Where the chart and the capture were written.
    pub chart: Option<String>,
    pub pcap: Option<String>,
    /// Packets in the capture.
    pub captured: Option<usize>,
    /// Whether Ctrl-C cut the run short: the report then holds only the
    /// client runs that finished.
    pub interrupted: bool,
}

/// What ran.
#[derive(Serialize)]
pub struct Experiment<'a> {
    pub name: &'a str,
    pub file: String,
    pub sha256: &'a str,
    pub seed: u64,
    pub repeats: u32,
    pub elapsed_ms: f64,
}

/// One transport's figures, with what its relays did.
#[derive(Serialize)]
pub struct TransportFigures {
    pub transport: Transport,
    #[serde(flatten)]
    pub figures: Figures,
    pub relay: RelayTotals,
}

/// What the relays of one transport did, both directions added up.
#[derive(Serialize, Default, Clone, Copy)]
pub struct RelayTotals {
    /// UDP datagrams dropped by `loss`.
    pub dropped: u64,
    /// UDP datagrams dropped because the rate limit's queue was full.
    pub rate_dropped: u64,
    /// TCP segments delivered only after a retransmission timeout.
    pub retransmitted: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub resets: u64,
    /// Datagrams or segments still queued in a relay when its client
    /// finished (a held-back request, say), never delivered.
    pub in_flight: u64,
}

/// The figures of every transport that ran.
pub fn transport_figures(run: &LabRun) -> Vec<TransportFigures> {
    TRANSPORTS
        .iter()
        .filter_map(|&t| {
            let runs: Vec<&ClientRun> = run.clients.iter().filter(|c| c.transport == t).collect();
            if runs.is_empty() {
                return None;
            }
            let fates: Vec<&Fate> = run
                .fates
                .iter()
                .filter(|f| runs.iter().any(|r| r.client == f.client))
                .collect();
            // The time this transport's clients ran: rounds one after
            // another, instances side by side.
            let busy_s: f64 = (0..run.plan.repeats)
                .map(|repeat| {
                    let round = runs.iter().filter(|r| r.repeat == repeat);
                    let start = round
                        .clone()
                        .map(|r| r.started_at_us)
                        .fold(f64::MAX, f64::min);
                    let end = round.map(|r| r.ended_at_us).fold(0.0, f64::max);
                    (end - start).max(0.0) / 1e6
                })
                .sum();
            let mut relay = RelayTotals::default();
            for r in &runs {
                let s = &r.relay_stats;
                for d in [&s.to_server, &s.to_client] {
                    relay.dropped += d.lost * u64::from(t == Transport::Udp);
                    relay.retransmitted += d.retransmissions;
                    relay.rate_dropped += d.rate_dropped;
                    relay.duplicated += d.duplicated;
                    relay.reordered += d.reordered;
                    relay.in_flight += d.pending;
                }
                relay.resets += s.resets;
            }
            Some(TransportFigures {
                transport: t,
                figures: figures(&fates, busy_s),
                relay,
            })
        })
        .collect()
}

/// One line per transport: what happened to its messages, compared.
pub fn lessons(all: &[TransportFigures]) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, tf) in all.iter().enumerate() {
        let f = &tf.figures;
        let name = tf.transport;
        // Lead with what went wrong most plainly: lost, else late, else
        // the answered count.
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
        for (n, what) in [
            (if lead == "lost" { f.late } else { 0 }, "late"),
            (if lead == "answered" { 0 } else { f.answered }, "answered"),
            (f.duplicated, "duplicated"),
            (f.reordered, "reordered"),
            (f.failed, "not sent"),
            (f.interrupted, "interrupted"),
        ] {
            if n > 0 {
                let _ = write!(line, ", {n} {what}");
            }
        }
        let earlier = all[..i].iter().find(|o| o.figures.rtt_p99_us.is_some());
        match (f.rtt_p99_us, earlier) {
            (Some(p99), Some(other)) if same_within_spread(f, &other.figures) => {
                let _ = write!(line, ", p99 RTT about {}'s ({})", other.transport, ms(p99));
            }
            (Some(p99), Some(other)) => {
                let other_p99 = other.figures.rtt_p99_us.unwrap_or(p99).max(1e-3);
                let ratio = p99 / other_p99;
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
                let _ = write!(
                    line,
                    ", p99 RTT {factor}× {word} than {}'s ({})",
                    other.transport,
                    ms(p99)
                );
            }
            (Some(p99), None) => {
                let _ = write!(line, ", p99 RTT {}", ms(p99));
            }
            (None, _) => {}
        }
        let r = &tf.relay;
        let mut causes = Vec::new();
        if r.dropped > 0 {
            causes.push(format!(
                "the relay dropped {}",
                plural(r.dropped, "datagram", "datagrams")
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
        if r.in_flight > 0 {
            causes.push(format!(
                "{} still in the relay when the clients finished",
                r.in_flight
            ));
        }
        if !causes.is_empty() {
            let _ = write!(line, "; {}", causes.join("; "));
        }
        lines.push(line);
    }
    lines
}

/// How many times apart two p99 RTTs must be, besides lying outside each
/// other's interval, before a lesson calls them different: a steady 20%
/// between two sub-millisecond loopback paths is not what an experiment
/// teaches.
const LESSON_RATIO: f64 = 2.0;

/// Whether two transports' p99 RTTs are about the same: within the run's
/// own spread (their 99% intervals overlap: a handful of slow replies among
/// a hundred is noise), or less than [`LESSON_RATIO`] apart.
fn same_within_spread(a: &Figures, b: &Figures) -> bool {
    let (Some(pa), Some(pb)) = (a.rtt_p99_us, b.rtt_p99_us) else {
        return true;
    };
    let ratio = pa.max(pb) / pa.min(pb).max(1e-3);
    if ratio < LESSON_RATIO {
        return true;
    }
    match (a.rtt_p99_interval_us, b.rtt_p99_interval_us) {
        (Some((a_low, a_high)), Some((b_low, b_high))) => a_low <= b_high && b_low <= a_high,
        _ => true,
    }
}

/// The readable summary.
pub fn text(run: &LabRun, doc: &Document<'_>) -> String {
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
    const SHOWN: usize = 8;
    for c in run.clients.iter().take(SHOWN) {
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
        let f = &tf.figures;
        let _ = writeln!(
            out,
            "{} {} messages: {} answered, {} late, {} lost{}; RTT p50 {} p90 {} p99 {} max {}; {:.0} msg/s, {:.1} kB/s",
            tf.transport,
            f.messages,
            f.answered,
            f.late,
            f.lost,
            if f.interrupted > 0 {
                format!(", {} interrupted", f.interrupted)
            } else {
                String::new()
            },
            opt_ms(f.rtt_p50_us),
            opt_ms(f.rtt_p90_us),
            opt_ms(f.rtt_p99_us),
            opt_ms(f.rtt_max_us),
            f.answered_per_s,
            f.bytes_per_s / 1e3,
        );
    }
    for lesson in &doc.lessons {
        let _ = writeln!(out, "{lesson}");
    }
    out
}

fn failure(error: &Option<String>, stderr: &Option<String>) -> String {
    match (error, stderr) {
        (Some(e), Some(s)) => format!(" — failed: {e}; stderr: {}", s.trim().replace('\n', " | ")),
        (Some(e), None) => format!(" — failed: {e}"),
        _ => String::new(),
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn ms(us: f64) -> String {
    if us >= 10_000.0 {
        format!("{:.0} ms", us / 1e3)
    } else {
        format!("{:.2} ms", us / 1e3)
    }
}

fn opt_ms(us: Option<f64>) -> String {
    us.map_or("-".into(), ms)
}

/// Ok when every guest ran to its end, Limit when a limit stopped one,
/// Failed for any other failure or refusal, Interrupted after Ctrl-C. Lost
/// and late messages are the experiment's findings, not failures.
pub fn verdict(run: &LabRun) -> Verdict {
    if run.interrupted {
        return Verdict::Interrupted;
    }
    let guests = run
        .servers
        .iter()
        .map(|s| &s.guest)
        .chain(run.clients.iter().map(|c| &c.record.guest));
    let mut verdict = Verdict::Ok;
    for g in guests {
        if !g.limits.is_empty() {
            return Verdict::Limit;
        }
        if g.error.is_some() || g.refused_total > 0 {
            verdict = Verdict::Failed;
        }
    }
    if run.clients.is_empty() {
        verdict = Verdict::Failed;
    }
    verdict
}

impl<'a> Document<'a> {
    pub fn new(run: &'a LabRun, chart: Option<String>, pcap: Option<String>) -> Document<'a> {
        let figures = transport_figures(run);
        Document {
            socklab: SOCKLAB_VERSION,
            wasmtime: WASMTIME_VERSION,
            experiment: Experiment {
                name: &run.plan.name,
                file: run.plan.path.display().to_string(),
                sha256: &run.plan.sha256,
                seed: run.plan.seed,
                repeats: run.plan.repeats,
                elapsed_ms: run.elapsed.as_secs_f64() * 1e3,
            },
            lessons: lessons(&figures),
            figures,
            servers: &run.servers,
            clients: &run.clients,
            fates: &run.fates,
            chart,
            pcap,
            captured: run.capture.as_ref().map(|c| c.packets()),
            interrupted: run.interrupted,
        }
    }
}
