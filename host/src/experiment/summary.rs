//! A lab run's report: the readable summary (ending in one lesson line per
//! transport), the JSON document, the exit code.

use serde::Serialize;

use super::fates::{Fate, Figures, TRANSPORTS, figures};
use super::runner::{ClientRun, LabRun};
use crate::report::{ServerRecord, Verdict};
use crate::roles::Transport;
use crate::version::{SOCKLAB_VERSION, WASMTIME_VERSION};

/// The JSON document of `socklab lab --json`, also written as `report.json`.
#[derive(Serialize)]
pub struct Document<'a> {
    /// socklab's version.
    pub socklab: &'static str,
    /// The wasmtime version the guests ran on.
    pub wasmtime: &'static str,
    /// What ran.
    pub experiment: Experiment<'a>,
    /// The lesson, one line per transport.
    pub lessons: Vec<String>,
    /// The figures of each transport that ran.
    pub figures: Vec<TransportFigures>,
    /// Each server's record.
    pub servers: &'a [ServerRecord],
    /// Each client instance's run.
    pub clients: &'a [ClientRun],
    /// Every message's fate.
    pub fates: &'a [Fate],
    /// Where the chart and the capture were written.
    pub chart: Option<String>,
    /// Where the capture was written.
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
    /// Its title.
    pub name: &'a str,
    /// The experiment file.
    pub file: String,
    /// The file's SHA-256, hex.
    pub sha256: &'a str,
    /// The seed every fate was drawn from.
    pub seed: u64,
    /// Rounds of the clients.
    pub repeats: u32,
    /// Wall-clock time of the run, ms.
    pub elapsed_ms: f64,
}

/// One transport's figures, with what its relays did.
#[derive(Serialize)]
pub struct TransportFigures {
    /// Which transport.
    pub transport: Transport,
    /// Its counts and RTT figures.
    #[serde(flatten)]
    pub figures: Figures,
    /// What its relays did.
    pub relay: RelayTotals,
    /// Each client node's own counts, in name order, when it has two to
    /// [`BY_CLIENT`] of them (the lesson names who lost what).
    #[serde(skip)]
    pub by_client: Vec<(String, Figures)>,
}

/// The most client nodes of one transport whose counts a lesson names one
/// by one.
pub const BY_CLIENT: usize = 4;

/// What the relays of one transport did, both directions added up.
#[derive(Serialize, Default, Clone, Copy)]
pub struct RelayTotals {
    /// UDP datagrams dropped by `loss` (and on the simulated network TCP
    /// segments, which TCP sends again).
    pub dropped: u64,
    /// UDP datagrams dropped because the rate limit's queue was full.
    pub rate_dropped: u64,
    /// TCP segments delivered only after a retransmission timeout.
    pub retransmitted: u64,
    /// UDP datagrams delivered twice.
    pub duplicated: u64,
    /// UDP datagrams held back.
    pub reordered: u64,
    /// TCP connections the relays reset.
    pub resets: u64,
    /// Datagrams or segments still queued in a relay when its client
    /// finished (a held-back request, say), never delivered.
    pub in_flight: u64,
    /// Simulated network: runs of losses `loss_burst` made. This and the
    /// two below are left out of the JSON when 0, as in the link stats.
    #[serde(skip_serializing_if = "socklab_relay::stats::is_zero")]
    pub loss_bursts: u64,
    /// Simulated network: datagrams or segments `corrupt` damaged, which
    /// the receiver's checksum dropped.
    #[serde(skip_serializing_if = "socklab_relay::stats::is_zero")]
    pub corrupted: u64,
    /// Simulated network: UDP datagrams over the `mtu`, sent as fragments.
    #[serde(skip_serializing_if = "socklab_relay::stats::is_zero")]
    pub fragmented: u64,
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
                    // A relay's TCP "loss" is a delay (counted below); a
                    // simulated link drops the segment itself.
                    let dropped = t == Transport::Udp || crate::runtime::tasks::simulated();
                    relay.dropped += d.lost * u64::from(dropped);
                    relay.retransmitted += d.retransmissions;
                    relay.rate_dropped += d.rate_dropped;
                    relay.duplicated += d.duplicated;
                    relay.reordered += d.reordered;
                    relay.in_flight += d.pending;
                    relay.loss_bursts += d.loss_bursts;
                    relay.corrupted += d.corrupted;
                    relay.fragmented += d.fragmented;
                }
                relay.resets += s.resets;
            }
            let mut names: Vec<&str> = fates.iter().map(|f| f.client.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            let by_client = match names.len() {
                2..=BY_CLIENT => names
                    .iter()
                    .map(|&name| {
                        let own: Vec<&Fate> =
                            fates.iter().copied().filter(|f| f.client == name).collect();
                        (name.to_string(), figures(&own, busy_s))
                    })
                    .collect(),
                _ => Vec::new(),
            };
            Some(TransportFigures {
                transport: t,
                figures: figures(&fates, busy_s),
                relay,
                by_client,
            })
        })
        .collect()
}

pub(super) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub(super) fn ms(us: f64) -> String {
    if us >= 10_000.0 {
        format!("{:.0} ms", us / 1e3)
    } else {
        format!("{:.2} ms", us / 1e3)
    }
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
    /// The document of `run`, naming where the chart and capture went.
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
            lessons: super::lessons::lessons(&figures),
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
