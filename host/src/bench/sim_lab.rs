//! The examples under `examples/sim/` as child `socklab lab` processes, for
//! the `sim` group: each one's wall time, the simulated and real seconds
//! its stderr line reports, its event log's length and its peak RSS.
//!
//! A child of its own gives each example a clean peak RSS: its `VmHWM`
//! (`/proc/PID/status`), read every 2 ms while it runs, belongs to the
//! memory map its `exec` made. (`wait4`'s `ru_maxrss` would not do: Linux
//! carries the parent's high-water mark across fork and exec into it, and
//! measured 370-570 MiB where the child alone peaks at 220 MiB.)

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// One run of one example.
pub struct LabRun {
    /// Spawn to exit.
    pub wall_secs: f64,
    /// Simulated seconds, from `simulated network (seed N): X s of
    /// simulated time in Y s of real time`.
    pub simulated_secs: f64,
    /// The `Y` of that line: the simulation's own real time (the guests'
    /// instantiation included, process start and guest loading not).
    pub real_secs: f64,
    /// Lines of its `--events` file.
    pub events: usize,
    /// The child's peak resident set (its last `VmHWM` read), MiB.
    pub peak_rss_mib: f64,
}

impl LabRun {
    /// Simulated seconds per second of the simulation's real time.
    pub fn speed(&self) -> f64 {
        self.simulated_secs / self.real_secs.max(1e-3)
    }
}

/// `examples/sim/` under the current directory, else in the source tree
/// this binary was built from.
pub fn examples_dir() -> Option<PathBuf> {
    let here = PathBuf::from("examples/sim");
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sim");
    [here, tree].into_iter().find(|d| d.is_dir())
}

/// Every `.toml` of `dir` by name, each run `runs` times (after one run of
/// each but the 1,000-client one that is not counted, so that the compiled
/// cache holds every guest they use).
pub fn run_all(
    exe: &Path,
    dir: &Path,
    scratch: &Path,
    runs: usize,
    limit: Duration,
) -> Result<Vec<(String, Vec<LabRun>)>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for file in &files {
        if file.file_stem().is_some_and(|s| s != super::sim::THOUSAND) {
            run_one(exe, file, scratch, limit)?;
        }
    }
    let mut all = Vec::new();
    for file in &files {
        let name = file
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut each = Vec::new();
        for _ in 0..runs {
            each.push(run_one(exe, file, scratch, limit)?);
        }
        all.push((name, each));
    }
    Ok(all)
}

/// `socklab lab FILE --network simulated --out DIR --events FILE`, waited
/// for within `limit`, its `VmHWM` read every 2 ms until it exits.
fn run_one(exe: &Path, file: &Path, scratch: &Path, limit: Duration) -> Result<LabRun> {
    let out = scratch.join("sim-lab");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).context("creating the sim bench's scratch directory")?;
    let (events, stderr) = (out.join("events.jsonl"), out.join("stderr.txt"));
    let started = Instant::now();
    let mut child = Command::new(exe)
        .env("XDG_CACHE_HOME", scratch.join("xdg"))
        .args(["--network", "simulated", "lab"])
        .arg(file)
        .arg("--out")
        .arg(out.join("out"))
        .arg("--events")
        .arg(&events)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&stderr).context("creating the child's stderr file")?)
        .spawn()
        .with_context(|| format!("starting {} lab {}", exe.display(), file.display()))?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    let status = loop {
        // Read before asking whether it exited: once reaped, it is gone.
        peak_kib = peak_kib.max(high_water_kib(&status_file).unwrap_or(0));
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "socklab lab {} did not finish within {limit:?}",
                file.display()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let wall_secs = started.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&stderr).unwrap_or_default();
    if !status.success() {
        bail!(
            "socklab lab {} failed ({status}): {}",
            file.display(),
            text.trim()
        );
    }
    let Some((simulated_secs, real_secs)) = text.lines().find_map(timing_line) else {
        bail!(
            "socklab lab {} printed no `simulated network` line: {}",
            file.display(),
            text.trim()
        );
    };
    let events = std::fs::read_to_string(&events).map_or(0, |t| t.lines().count());
    Ok(LabRun {
        wall_secs,
        simulated_secs,
        real_secs,
        events,
        peak_rss_mib: peak_kib as f64 / 1024.0,
    })
}

/// The `VmHWM` of a `/proc/PID/status`, KiB; `None` once the process has
/// exited (a zombie's status has no memory lines) or off Linux.
fn high_water_kib(status_file: &str) -> Option<u64> {
    let text = std::fs::read_to_string(status_file).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `(X, Y)` of `simulated network (seed N): X s of simulated time in Y s
/// of real time`.
fn timing_line(line: &str) -> Option<(f64, f64)> {
    let rest = line.strip_prefix("simulated network (seed ")?;
    let (_, rest) = rest.split_once("): ")?;
    let (simulated, rest) = rest.split_once(" s of simulated time in ")?;
    let real = rest.strip_suffix(" s of real time")?;
    Some((simulated.parse().ok()?, real.parse().ok()?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_timing_line_reads_back() {
        let line =
            "simulated network (seed 15): 0.046200 s of simulated time in 5.652 s of real time";
        assert_eq!(super::timing_line(line), Some((0.0462, 5.652)));
        assert_eq!(super::timing_line("lab: 2000 links"), None);
    }
}
