//! The audit trail: one JSON line per decision, written to `--audit FILE`.
//!
//! Refusals are written as they happen, one line each. Allowed uses are
//! written once a guest has finished, one line per guest, operation, target
//! and rule with a count, since UDP is checked per datagram and a line each
//! would swamp the file and the hot path.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::{Context, Result};
use serde::Serialize;

use super::op::{Op, Refusal};

/// An open audit file, shared by every guest of one command.
#[derive(Debug)]
pub struct Audit {
    path: std::path::PathBuf,
    out: Mutex<Writer>,
}

#[derive(Debug)]
struct Writer {
    file: BufWriter<File>,
    /// The first write that failed: the audit is incomplete from there on,
    /// and the command must say so.
    failed: Option<String>,
}

/// The first line of every audit file: who wrote it.
#[derive(Serialize)]
struct Header {
    time: f64,
    kind: &'static str,
    socklab: &'static str,
    wasmtime: &'static str,
}

/// One line of the audit file.
#[derive(Debug, Serialize)]
pub struct Decision<'a> {
    /// Seconds since the Unix epoch.
    pub time: f64,
    /// `client tcp-client`, `server udp-echo-server`, ...
    pub guest: &'a str,
    /// `deny` or `allow`.
    pub decision: &'static str,
    /// The operation decided.
    pub op: Op,
    /// The local address (bind, listen), peer (the others) or name (dns).
    pub target: &'a str,
    /// The rule that decided.
    pub rule: &'a str,
    /// Allowed lines: how many uses this line stands for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Deny lines: whether the guest never saw the refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silent: Option<bool>,
}

impl<'a> Decision<'a> {
    /// The line of one refusal.
    pub fn refused(guest: &'a str, r: &'a Refusal) -> Decision<'a> {
        Decision {
            time: r.time,
            guest,
            decision: "deny",
            op: r.op,
            target: &r.target,
            rule: &r.rule,
            count: None,
            silent: Some(r.silent),
        }
    }

    /// The line of a guest's allowed uses of `op` on `target` under `rule`.
    pub fn allowed(
        guest: &'a str,
        op: Op,
        target: &'a str,
        rule: &'a str,
        count: u64,
    ) -> Decision<'a> {
        Decision {
            time: now_secs(),
            guest,
            decision: "allow",
            op,
            target,
            rule,
            count: Some(count),
            silent: None,
        }
    }
}

impl Audit {
    /// Create (or truncate) `path`; [`Audit::start`] then writes its first
    /// line.
    pub fn create(path: &Path) -> Result<Arc<Audit>> {
        let file = File::create(path)
            .with_context(|| format!("cannot create the audit file {}", path.display()))?;
        let audit = Audit {
            path: path.to_path_buf(),
            out: Mutex::new(Writer {
                file: BufWriter::new(file),
                failed: None,
            }),
        };
        Ok(Arc::new(audit))
    }

    /// Write the first line (who wrote the file) and flush it, so that a
    /// file that cannot be written is found out now, before any guest runs.
    /// On the simulated network (`simulated`) the header's time is 0, the
    /// simulation's start, as every later time is counted from it.
    pub fn start(&self, simulated: bool) -> Result<()> {
        self.write(&Header {
            time: if simulated { 0.0 } else { now_secs() },
            kind: "audit",
            socklab: crate::version::SOCKLAB_VERSION,
            wasmtime: crate::version::WASMTIME_VERSION,
        });
        self.flush();
        match self.failed() {
            Some(why) => anyhow::bail!("{why}"),
            None => Ok(()),
        }
    }

    /// Append one line: a decision, the header, or a line of another kind
    /// (the lab's `link` lines, which name both legs of a relayed path). A
    /// failing write never stops a guest; it is kept for [`Audit::failed`].
    pub fn write(&self, record: &impl Serialize) {
        let mut out = self.out.lock().unwrap();
        if out.failed.is_some() {
            return;
        }
        let line = serde_json::to_string(record).expect("audit lines always serialise");
        if let Err(e) = writeln!(out.file, "{line}") {
            out.failed = Some(self.failure(&e));
        }
    }

    /// Push buffered lines to the file.
    pub fn flush(&self) {
        let mut out = self.out.lock().unwrap();
        if out.failed.is_none()
            && let Err(e) = out.file.flush()
        {
            out.failed = Some(self.failure(&e));
        }
    }

    /// Why the audit is incomplete, if a write failed: one line naming the
    /// file.
    pub fn failed(&self) -> Option<String> {
        self.out.lock().unwrap().failed.clone()
    }

    fn failure(&self, e: &std::io::Error) -> String {
        format!(
            "cannot write the audit file {}: {e}; the audit is incomplete",
            self.path.display()
        )
    }
}

/// When a decision is made: seconds since the Unix epoch, as a float; on
/// the simulated network, simulated seconds since the simulation started,
/// so that the audit of a seeded run repeats byte for byte.
pub fn now_secs() -> f64 {
    if let Some(sim) = socklab_sim::exec::try_handle() {
        return sim.now_micros() as f64 / 1e6;
    }
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
