//! `socklab lab FILE`: experiments. One TOML file names the guests, wires
//! each client to a server through an impairing relay of the host's, and says
//! which messages to send; socklab runs it from a seed and reports each
//! message's fate, the RTT figures per transport, a chart and a capture.
//!
//! Where to read: [`file`] (the file format and its errors) → [`plan`]
//! (guests loaded, names resolved) → [`runner`] (servers, relays, clients,
//! rounds) → [`fates`] (what happened to each message, and its figures;
//! [`spread`], where a p99 could lie) → [`summary`] (the report, and
//! [`lessons`], its one line per transport) and [`chart`]. [`outputs`]
//! opens and writes the files (and keeps them for `--check-determinism`);
//! [`sim_capture`] is `--pcap` on the simulated network, where the
//! simulation captures instead of relays.

pub mod chart;
pub mod fates;
pub mod file;
pub mod lessons;
pub mod messages;
pub mod outputs;
pub mod partial;
pub mod plan;
pub mod rounds;
pub mod runner;
pub mod sim_capture;
pub mod spread;
pub mod summary;
pub mod text;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;

use self::outputs::{Kept, Outputs};
use self::sim_capture::SimCapture;
use crate::report::Verdict;
use crate::runtime::Runtime;
use crate::{output, say};

/// What `socklab lab` writes, and where.
#[derive(Debug, Default)]
pub struct LabOptions {
    /// The directory for `report.json` and `rtt.svg` (default
    /// `lab-out/<file stem>`).
    pub out: Option<PathBuf>,
    /// Where to write the capture, if anywhere.
    pub pcap: Option<PathBuf>,
    /// Whether to draw the chart.
    pub chart: bool,
    /// Print the JSON document instead of the summary.
    pub json: bool,
    /// Under `--check-determinism`: where the files' bytes are kept (and,
    /// for the second run, only kept: nothing is written or printed).
    pub kept: Option<Kept>,
}

/// `socklab lab FILE`, once the file is loaded ([`plan::load`]): open the
/// outputs, run, write the report, chart and capture, print the summary (or
/// the JSON); the result is the verdict.
///
/// The outputs are opened before any guest runs. A write that fails at the
/// end is named on stderr and makes the exit code 1, and the other outputs
/// are still written, the report first.
pub async fn run_plan(
    runtime: &Arc<Runtime>,
    plan: plan::Plan,
    options: LabOptions,
    interrupt: impl Future<Output = ()>,
) -> Result<Verdict> {
    let out = options.out.clone().unwrap_or_else(|| {
        Path::new("lab-out").join(plan.path.file_stem().unwrap_or("experiment".as_ref()))
    });
    let kept = options.kept.as_ref();
    let mut outputs = Outputs::open(&out, options.chart, options.pcap.as_deref(), kept)?;
    // On the simulated network the simulation captures; on the real one,
    // the relays.
    let sim_capture = match outputs.pcap {
        Some(_) => SimCapture::start()?,
        None => None,
    };
    let run_options = runner::Options {
        capture: outputs.pcap.is_some() && sim_capture.is_none(),
    };
    let wall = std::time::Instant::now();
    let run = runner::run(runtime, plan, &run_options, interrupt).await?;
    let wall = wall.elapsed();

    let mut failed = Vec::new();
    let captured = captured(&run, sim_capture, &mut failed);
    let chart_path = outputs.chart.as_ref().map(|c| c.path.display().to_string());
    let pcap_path = outputs.pcap.as_ref().map(|p| p.path.display().to_string());
    let mut doc = summary::Document::new(&run, chart_path.clone(), pcap_path.clone());
    doc.captured = captured.as_ref().map(|(packets, _)| *packets);
    let json = serde_json::to_string_pretty(&doc)?;
    if let Err(e) = outputs.report.write_all(json.as_bytes()) {
        failed.push(e);
    }
    if let Some(chart) = &mut outputs.chart {
        let svg = chart::render_svg(&chart_of(&run, &doc.lessons))?;
        if let Err(e) = chart.write_all(svg.as_bytes()) {
            failed.push(e);
        }
    }
    if let (Some(pcap), Some((_, records))) = (&mut outputs.pcap, &captured)
        && let Err(e) = pcap.write_all(records)
    {
        failed.push(e);
    }
    if kept.is_some_and(|k| k.only_memory) {
        // The second run of --check-determinism: compared, not shown.
        return Ok(summary::verdict(&run));
    }
    if crate::runtime::tasks::simulated()
        && let Err(e) = write_timing(&out, &run, wall)
    {
        failed.push(e);
    }
    if options.json {
        output::stdout_line(&json);
    } else {
        let mut text = text::summary(&run, &doc);
        text.push_str(&format!("report: {}\n", outputs.report.path.display()));
        if let Some(chart) = chart_path {
            text.push_str(&format!("chart: {chart}\n"));
        }
        if let (Some(pcap), Some(packets)) = (pcap_path, doc.captured) {
            text.push_str(&format!("capture: {pcap} ({packets} packets)\n"));
        }
        output::stdout(&text);
    }
    for e in &failed {
        say!("error: {e:#}");
    }
    let verdict = summary::verdict(&run);
    Ok(if failed.is_empty() || verdict == Verdict::Interrupted {
        verdict
    } else {
        Verdict::Failed
    })
}

/// The capture's packet count and pcap records: the simulation's, or the
/// relays'. A capture that failed is said in `failed`, and left out.
fn captured(
    run: &runner::LabRun,
    sim: Option<SimCapture>,
    failed: &mut Vec<anyhow::Error>,
) -> Option<(usize, Vec<u8>)> {
    if let Some(sim) = sim {
        return sim.finish().map_err(|e| failed.push(e)).ok();
    }
    let capture = run.capture.as_ref()?;
    let mut records = Vec::new();
    match capture.write_pcap_packets(&mut records) {
        Ok(()) => Some((capture.packets(), records)),
        Err(e) => {
            failed.push(anyhow::anyhow!("cannot write the capture: {e}"));
            None
        }
    }
}

/// `timing.json` beside the report on the simulated network: report.json
/// holds only what the seed decides; how long it took in real time goes
/// here.
fn write_timing(out: &Path, run: &runner::LabRun, wall: std::time::Duration) -> Result<()> {
    let timing = serde_json::json!({
        "simulated_ms": run.elapsed.as_secs_f64() * 1e3,
        "wall_ms": wall.as_secs_f64() * 1e3,
    });
    let path = out.join("timing.json");
    std::fs::write(&path, format!("{timing:#}\n"))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

/// What the chart shows: every message of each transport that ran (its
/// fate, and where its client's timeout puts it when it got no answer),
/// each link's impairments, and the report's lessons.
fn chart_of(run: &runner::LabRun, lessons: &[String]) -> chart::Chart {
    let series = fates::TRANSPORTS
        .iter()
        .filter(|&&t| run.clients.iter().any(|c| c.transport == t))
        .map(|&t| chart::Series {
            transport: t,
            messages: run
                .fates
                .iter()
                .filter_map(|f| {
                    let node = run.plan.clients.iter().find(|c| c.name == f.client)?;
                    (node.transport == t).then_some(chart::Message {
                        sent_at_ms: f.sent_at_us / 1e3,
                        fate: f.fate,
                        rtt_ms: f.rtt_us.map(|rtt| rtt / 1e3),
                        timeout_ms: f64::from(node.spec.timeout_ms),
                        duplicated: f.duplicated,
                        reordered: f.reordered,
                    })
                })
                .collect(),
        })
        .collect();
    // In the order of the lessons: UDP's links, then TCP's.
    let mut nodes: Vec<_> = run.plan.clients.iter().collect();
    nodes.sort_by_key(|c| fates::TRANSPORTS.iter().position(|&t| t == c.transport));
    let links = nodes
        .iter()
        .map(|c| {
            let server = &run.plan.servers[c.server].name;
            chart::link_caption(
                &c.name,
                server,
                c.instances,
                c.spec.timeout_ms,
                &c.impairments,
            )
        })
        .collect();
    chart::Chart {
        title: run.plan.name.clone(),
        links,
        lessons: lessons.to_vec(),
        series,
    }
}
