//! `socklab lab FILE`: experiments. One TOML file names the guests, wires
//! each client to a server through an impairing relay of the host's, and says
//! which messages to send; socklab runs it from a seed and reports each
//! message's fate, the RTT figures per transport, a chart and a capture.
//!
//! Where to read: [`file`] (the file format and its errors) → [`plan`]
//! (guests loaded, names resolved) → [`runner`] (servers, relays, clients,
//! rounds) → [`fates`] (what happened to each message) → [`summary`] (the
//! report) and [`chart`].

pub mod chart;
pub mod fates;
pub mod file;
pub mod messages;
pub mod plan;
pub mod runner;
pub mod summary;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::bad_input;
use crate::lab::Lab;

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
}

/// `socklab lab FILE`: load, run, write the report, chart and capture, print
/// the summary (or the JSON); the result is the exit code.
pub async fn run_file(
    lab: &Arc<Lab>,
    path: &Path,
    overrides: &plan::Overrides,
    options: LabOptions,
    interrupt: impl Future<Output = ()>,
) -> Result<i32> {
    let plan = plan::load(lab, path, overrides)?;
    let out = options.out.clone().unwrap_or_else(|| {
        Path::new("lab-out").join(path.file_stem().unwrap_or("experiment".as_ref()))
    });
    if let Err(e) = std::fs::create_dir_all(&out) {
        bad_input!(
            "cannot create the output directory {}: {e}; give a writable --out DIR",
            out.display()
        );
    }
    let run_options = runner::Options {
        pcap: options.pcap.clone(),
    };
    let run = runner::run(lab, plan, &run_options, interrupt).await?;

    let chart = if options.chart {
        let path = out.join("rtt.svg");
        let series = fates::TRANSPORTS
            .iter()
            .filter(|&&t| run.clients.iter().any(|c| c.transport == t))
            .map(|&t| chart::Series {
                transport: t,
                points: run
                    .fates
                    .iter()
                    .filter(|f| {
                        run.clients
                            .iter()
                            .any(|c| c.transport == t && c.client == f.client)
                    })
                    .filter_map(|f| f.rtt_us.map(|rtt| (f.sent_at_us / 1e3, rtt / 1e3)))
                    .collect(),
            })
            .collect::<Vec<_>>();
        chart::write_svg(&path, &run.plan.name, &series)?;
        Some(path.display().to_string())
    } else {
        None
    };
    let pcap = options.pcap.as_ref().map(|p| p.display().to_string());
    let doc = summary::Document::new(&run, chart.clone(), pcap.clone());
    let json = serde_json::to_string_pretty(&doc)?;
    let report_path = out.join("report.json");
    std::fs::write(&report_path, &json)
        .with_context(|| format!("writing the report {}", report_path.display()))?;
    if options.json {
        println!("{json}");
    } else {
        print!("{}", summary::text(&run, &doc));
        println!("report: {}", report_path.display());
        if let Some(chart) = chart {
            println!("chart: {chart}");
        }
        if let (Some(pcap), Some(n)) = (pcap, run.captured) {
            println!("capture: {pcap} ({n} packets)");
        }
    }
    Ok(summary::exit_code(&run))
}
