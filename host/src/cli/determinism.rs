//! `socklab lab --check-determinism`: the experiment run twice on the
//! simulated network with one seed, and every byte of the two runs
//! compared: the event log first (so that a difference is named by the
//! first event where the runs part), then each file (report.json, rtt.svg,
//! the capture), then the exit codes.
//!
//! The first run writes the user's files as a plain run would and keeps
//! their bytes; the second keeps its bytes in memory only and prints
//! nothing ([`Kept`]), so no file is written twice.

use socklab_sim::LogEvent;
use socklab_sim::log::first_divergence;

use super::args::{Cli, Command};
use super::exit;
use crate::experiment::outputs::{Kept, KeptFile};

/// Whether `cli` asks for the check.
pub fn requested(cli: &Cli) -> bool {
    matches!(&cli.command, Command::Lab(args) if args.check_determinism)
}

/// The two runs of one check: the second's command, and where each run
/// keeps its files.
pub struct Twin {
    /// The second run's command (the first's is the user's own).
    pub second_cli: Cli,
    /// The first run's files.
    pub first_kept: Kept,
    /// The second run's files, never written to disk.
    pub second_kept: Kept,
}

impl Twin {
    /// The check of `cli`'s lab run.
    pub fn of(cli: &Cli) -> Twin {
        let second_kept = Kept::new(true);
        Twin {
            second_cli: keeping(cli.clone(), &second_kept),
            first_kept: Kept::new(false),
            second_kept,
        }
    }

    /// `cli`, as the first run: its files written and kept.
    pub fn first(&self, cli: Cli) -> Cli {
        keeping(cli, &self.first_kept)
    }
}

fn keeping(mut cli: Cli, kept: &Kept) -> Cli {
    if let Command::Lab(args) = &mut cli.command {
        args.kept = Some(kept.clone());
    }
    cli
}

/// What one run produced, as compared.
pub struct Run {
    /// Its event log.
    pub events: Vec<LogEvent>,
    /// Each file it wrote (or would have written) and its bytes.
    pub files: Vec<KeptFile>,
    /// Its exit code.
    pub code: i32,
}

impl Run {
    /// The run that ended in `sim`, its files in `kept`, with exit `code`.
    pub fn of(sim: &socklab_sim::Handle, kept: &Kept, code: i32) -> Run {
        Run {
            events: sim.events(),
            files: kept.files(),
            code,
        }
    }
}

/// The line that says whether `first` and `second` (two runs of `seed`)
/// agree, and the exit code: the runs' own when they agree, 1 when not.
pub fn compare(seed: u64, first: &Run, second: &Run) -> (String, i32) {
    let part = format!("not deterministic: two runs of seed {seed}");
    if let Some(divergence) = first_divergence(&first.events, &second.events) {
        return (format!("{part} part at {divergence}"), exit::FAILED);
    }
    let events = first.events.len();
    let mut bytes = 0;
    for (path, one) in &first.files {
        let other = second.files.iter().find(|(p, _)| p == path);
        let other = other.map_or(&[][..], |(_, b)| b.as_slice());
        if let Some(offset) = first_difference(one, other) {
            let line = format!(
                "{part} agree on all {events} events, but {} differs from byte {offset} on ({} and {} bytes)",
                path.display(),
                one.len(),
                other.len()
            );
            return (line, exit::FAILED);
        }
        bytes += one.len();
    }
    if let Some((path, _)) = second
        .files
        .iter()
        .find(|(p, _)| !first.files.iter().any(|(q, _)| p == q))
    {
        let line = format!(
            "{part} agree on all {events} events, but only the second wrote {}",
            path.display()
        );
        return (line, exit::FAILED);
    }
    if first.code != second.code {
        let line = format!(
            "{part} agree on every byte, but exit {} and {}",
            first.code, second.code
        );
        return (line, exit::FAILED);
    }
    let names: Vec<String> = first
        .files
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    let line = format!(
        "deterministic: two runs of seed {seed} agree on all {events} events and all {bytes} bytes of {}",
        names.join(", ")
    );
    (line, first.code)
}

/// The first byte offset where `a` and `b` differ (one being longer
/// counts), or `None` when they are equal.
pub fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(offset) => Some(offset),
        None => (a.len() != b.len()).then(|| a.len().min(b.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use socklab_sim::{DropCause, EventKind};

    fn run(kinds: &[EventKind], report: &[u8]) -> Run {
        let events = kinds
            .iter()
            .enumerate()
            .map(|(i, &kind)| LogEvent {
                at_micros: 100 * i as u64,
                node: "patient".into(),
                socket: 3,
                kind,
                detail: "10.0.0.2:4000 -> 10.0.0.1:7, 64 B".into(),
            })
            .collect();
        Run {
            events,
            files: vec![("out/report.json".into(), report.to_vec())],
            code: 0,
        }
    }

    const LOSS: EventKind = EventKind::Drop {
        cause: DropCause::Loss,
    };

    #[test]
    fn identical_runs_say_how_much_they_agree_on_and_keep_the_exit_code() {
        let a = run(&[EventKind::Bind, EventKind::Send], b"{}");
        let (line, code) = compare(7, &a, &run(&[EventKind::Bind, EventKind::Send], b"{}"));
        assert_eq!(code, 0);
        assert_eq!(
            line,
            "deterministic: two runs of seed 7 agree on all 2 events and all 2 bytes of out/report.json"
        );
    }

    #[test]
    fn a_planted_event_names_where_the_runs_part() {
        let a = run(
            &[EventKind::Bind, EventKind::Send, EventKind::Arrive],
            b"{}",
        );
        let b = run(&[EventKind::Bind, EventKind::Send, LOSS], b"{}");
        let (line, code) = compare(7, &a, &b);
        assert_eq!(code, exit::FAILED);
        assert_eq!(
            line,
            "not deterministic: two runs of seed 7 part at event 3: \
             run 1 at 200 us on patient, socket 3: arrive 10.0.0.2:4000 -> 10.0.0.1:7, 64 B; \
             run 2 at 200 us on patient, socket 3: drop (loss) 10.0.0.2:4000 -> 10.0.0.1:7, 64 B"
        );
    }

    #[test]
    fn a_file_that_differs_alone_is_named_with_its_first_differing_byte() {
        let a = run(&[EventKind::Bind], b"{\"seed\":7}");
        let b = run(&[EventKind::Bind], b"{\"seed\":8}");
        let (line, code) = compare(7, &a, &b);
        assert_eq!(code, exit::FAILED);
        assert!(
            line.ends_with("out/report.json differs from byte 8 on (10 and 10 bytes)"),
            "{line}"
        );
        assert_eq!(first_difference(b"abc", b"ab"), Some(2));
        assert_eq!(first_difference(b"abc", b"abc"), None);
        let mut c = run(&[EventKind::Bind], b"{\"seed\":7}");
        c.code = 1;
        assert!(compare(7, &a, &c).0.ends_with("exit 0 and 1"));
    }
}
