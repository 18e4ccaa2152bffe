//! One row of figures, its target, and how the rows print: a table for
//! people, the same figures in JSON.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::Duration;

use serde::{Serialize, Serializer};

use super::Bench;
use crate::runtime::link::UdpSockets;

/// What a row should reach.
#[derive(Clone, Copy, Debug)]
pub enum Goal {
    /// socklab / baseline at most this (times).
    RatioAtMost(f64),
    /// socklab / baseline at least this (rates).
    RatioAtLeast(f64),
    /// socklab / baseline strictly below this.
    RatioBelow(f64),
    /// socklab's own figure at most this, in the row's unit.
    AtMost(f64),
    /// socklab's own figure at least this, in the row's unit (rates).
    AtLeast(f64),
    /// No target: shown for context.
    None,
}

impl Goal {
    fn text(self, unit: &str) -> String {
        match self {
            Goal::RatioAtMost(r) => format!("<= {r:.2}x"),
            Goal::RatioAtLeast(r) => format!(">= {r:.2}x"),
            Goal::RatioBelow(r) => format!("< {r:.2}x"),
            Goal::AtMost(v) => format!("<= {} {unit}", number(v)),
            Goal::AtLeast(v) => format!(">= {} {unit}", number(v)),
            Goal::None => "-".into(),
        }
    }

    fn met(self, socklab: Option<f64>, ratio: Option<f64>) -> Option<bool> {
        match self {
            Goal::RatioAtMost(r) => ratio.map(|x| x <= r),
            Goal::RatioAtLeast(r) => ratio.map(|x| x >= r),
            Goal::RatioBelow(r) => ratio.map(|x| x < r),
            Goal::AtMost(v) => socklab.map(|x| x <= v),
            Goal::AtLeast(v) => socklab.map(|x| x >= v),
            Goal::None => None,
        }
    }
}

/// One figure, for the baseline and for socklab.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Stable name, for `--json` readers: `tcp-rtt-p50`, ...
    /// (`sim-speed:NAME` rows are named after an example found at run time).
    pub name: Cow<'static, str>,
    /// What was measured, in a few words.
    pub what: String,
    /// `us`, `ms`, `MB/s`, `datagrams/s`, `connections/s`, `MiB`.
    pub unit: &'static str,
    /// What the baseline is: `native`, `wasmtime run`, or `-`.
    pub baseline_kind: &'static str,
    /// The baseline's figure (native, or `wasmtime run`), if measured.
    pub baseline: Option<f64>,
    /// socklab's figure, if measured.
    pub socklab: Option<f64>,
    /// socklab / baseline.
    pub ratio: Option<f64>,
    /// The target as text (`<= 1.10x`, `<= 5 ms`, `-`).
    pub target: String,
    /// Whether the target was met; `null` without a target or a figure.
    pub met: Option<bool>,
    /// Why a figure is missing, or what else the row saw (datagrams lost).
    pub note: Option<String>,
    /// Each counted round's p50 (rates: its rate), native and socklab, in
    /// the order they ran.
    pub rounds: Option<Rounds>,
    /// How far apart its rounds were: the largest over both sides of the
    /// rounds' highest p50 over their lowest.
    pub rounds_spread: Option<f64>,
    /// Whether the rounds disagreed (`rounds_spread` over [`UNSTABLE`]):
    /// such a row is neither met nor missed.
    pub unstable: bool,
}

/// A row's rounds, side by side.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Rounds {
    /// The baseline's rounds.
    pub baseline: Vec<f64>,
    /// socklab's rounds.
    pub socklab: Vec<f64>,
}

impl Rounds {
    /// The rounds' highest figure over their lowest, the worse side's.
    pub fn spread(&self) -> f64 {
        let of = |rounds: &[f64]| {
            let high = rounds.iter().copied().fold(f64::MIN, f64::max);
            let low = rounds.iter().copied().fold(f64::MAX, f64::min);
            if rounds.is_empty() || low <= 0.0 {
                1.0
            } else {
                high / low
            }
        };
        of(&self.baseline).max(of(&self.socklab))
    }
}

/// How far apart (highest over lowest) a row's rounds may be before its
/// figures are called unstable.
pub const UNSTABLE: f64 = 1.25;

impl Row {
    /// A row with no figures yet.
    fn empty(name: Cow<'static, str>, what: String, unit: &'static str, target: Goal) -> Row {
        Row {
            name,
            what,
            unit,
            baseline_kind: "-",
            baseline: None,
            socklab: None,
            ratio: None,
            target: target.text(unit),
            met: None,
            note: None,
            rounds: None,
            rounds_spread: None,
            unstable: false,
        }
    }

    /// A row comparing socklab with a native baseline.
    pub fn compare(
        name: impl Into<Cow<'static, str>>,
        what: impl Into<String>,
        unit: &'static str,
        baseline: f64,
        socklab: f64,
        target: Goal,
    ) -> Row {
        let ratio = Some(socklab / baseline);
        Row {
            baseline_kind: "native",
            baseline: Some(baseline),
            socklab: Some(socklab),
            ratio,
            met: target.met(Some(socklab), ratio),
            ..Row::empty(name.into(), what.into(), unit, target)
        }
    }

    /// A row with socklab's figure alone.
    pub fn alone(
        name: impl Into<Cow<'static, str>>,
        what: impl Into<String>,
        unit: &'static str,
        socklab: f64,
        target: Goal,
    ) -> Row {
        Row {
            socklab: Some(socklab),
            met: target.met(Some(socklab), None),
            ..Row::empty(name.into(), what.into(), unit, target)
        }
    }

    /// A row that could not be measured, and why.
    pub fn not_measured(
        name: impl Into<Cow<'static, str>>,
        what: impl Into<String>,
        unit: &'static str,
        target: Goal,
        why: impl Into<String>,
    ) -> Row {
        let note = Some(format!("not measured: {}", why.into()));
        Row::empty(name.into(), what.into(), unit, target).note(note)
    }

    /// The row with a note printed under it.
    pub fn note(mut self, note: Option<String>) -> Row {
        self.note = note;
        self
    }

    /// The row with its rounds: if they were more than [`UNSTABLE`] apart
    /// it is neither met nor missed.
    pub fn rounds(mut self, rounds: Rounds) -> Row {
        let spread = rounds.spread();
        self.rounds = Some(rounds);
        self.rounds_spread = Some(spread);
        if spread > UNSTABLE {
            self.unstable = true;
            self.met = None;
        }
        self
    }

    /// The row with its baseline named (`wasmtime run` rather than native).
    pub fn baseline_kind(mut self, kind: &'static str) -> Row {
        self.baseline_kind = kind;
        self
    }
}

/// The `p`th percentile (0..=100) of `samples`, nearest rank.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of `samples` (the mean of the middle two for an even count).
pub fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

/// A figure with about three significant digits.
fn number(v: f64) -> String {
    match v.abs() {
        x if x >= 100.0 => format!("{v:.0}"),
        x if x >= 10.0 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    }
}

pub fn render(bench: &Bench) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "socklab {} (wasmtime {}) bench{}: {} rounds after a warm-up, native and guest alternating, UDP on {} sockets, {}",
        bench.socklab,
        bench.wasmtime,
        if bench.quick { " --quick" } else { "" },
        bench.scale.rounds,
        match bench.udp_sockets {
            UdpSockets::WasmtimeWasi => "wasmtime-wasi's (--udp-sockets wasmtime-wasi)",
            UdpSockets::Socklab => "socklab's own",
        },
        match bench.pinned_cpu {
            Some(cpu) => format!("every thread on CPU {cpu} (--no-pin: unpinned)"),
            None => "unpinned (--no-pin)".to_string(),
        }
    );
    let _ = writeln!(
        out,
        "{:<28} {:<14} {:>12} {:>12} {:>7}  {:<10} result",
        "row", "unit", "baseline", "socklab", "ratio", "target"
    );
    for row in &bench.rows {
        let figure = |v: Option<f64>| v.map_or("-".to_string(), number);
        let result = match row.met {
            _ if row.unstable => "unstable",
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "-",
        };
        let baseline = match (row.baseline_kind, row.baseline) {
            ("wasmtime run", Some(v)) => format!("{} (wt)", number(v)),
            (_, v) => figure(v),
        };
        let _ = writeln!(
            out,
            "{:<28} {:<14} {:>12} {:>12} {:>7}  {:<10} {}",
            row.name,
            row.unit,
            baseline,
            figure(row.socklab),
            row.ratio.map_or("-".into(), |r| format!("{r:.2}x")),
            row.target,
            result
        );
        if let Some(note) = &row.note {
            let _ = writeln!(out, "{:<28} {note}", "");
        }
        if row.unstable {
            let spread = row.rounds_spread.unwrap_or_default();
            let _ = writeln!(
                out,
                "{:<28} its rounds' p50s were {spread:.2}x apart (over {UNSTABLE:.2}x): not a figure to judge the target by",
                ""
            );
        }
    }
    let _ = writeln!(
        out,
        "baseline: a native Rust (tokio) server in this process ((wt): `wasmtime run`); ratio = socklab / baseline; {:.0} s",
        bench.seconds
    );
    if bench.interrupted {
        let _ = writeln!(
            out,
            "interrupted: Ctrl-C stopped the bench; the rows above are the groups that finished"
        );
    }
    out
}

pub fn secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_that_disagree_make_a_row_neither_met_nor_missed() {
        let rounds = |spread: f64| Rounds {
            baseline: vec![10.0, 10.0],
            socklab: vec![10.0, 10.0 * spread, 10.0],
        };
        let row = |spread| {
            Row::compare("r", "w", "us", 10.0, 10.5, Goal::RatioAtMost(1.10)).rounds(rounds(spread))
        };
        let steady = row(1.25);
        assert_eq!((steady.met, steady.unstable), (Some(true), false));
        let shaky = row(1.26);
        assert_eq!((shaky.met, shaky.unstable), (None, true));
        let missed =
            Row::compare("r", "w", "us", 10.0, 20.0, Goal::RatioAtMost(1.10)).rounds(rounds(1.3));
        assert_eq!((missed.met, missed.unstable), (None, true));
    }
}
