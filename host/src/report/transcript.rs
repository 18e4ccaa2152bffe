//! The readable transcript of a report: each exchange, its guests (what
//! they were granted and refused, their limits, errors and output), each
//! message, and the result.

use std::fmt::Write as _;

use super::records::{GuestRecord, Served};
use super::{ExchangeRecord, Report};
use crate::grants::Refusal;

impl Report {
    /// The readable transcript.
    pub fn transcript(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "socklab {} (wasmtime {})", self.socklab, self.wasmtime);
        for run in &self.runs {
            out.push('\n');
            run.write_transcript(&mut out);
        }
        out
    }
}

impl ExchangeRecord {
    /// Its part of the transcript.
    pub(super) fn write_transcript(&self, out: &mut String) {
        let who = match (&self.server, &self.client) {
            (Some(s), Some(c)) => format!("{} -> {}", c.guest.name, s.guest.name),
            (Some(s), None) => s.guest.name.clone(),
            (None, Some(c)) => c.guest.name.clone(),
            (None, None) => String::new(),
        };
        let _ = writeln!(out, "== {} exchange: {who}", self.transport);
        if let Some(server) = &self.server {
            write_guest(out, "server", &server.guest);
            if let Some(addr) = server.listening {
                let _ = writeln!(out, "           listening on {addr}");
            }
        }
        if let Some(client) = &self.client {
            write_guest(out, "client", &client.guest);
            let _ = writeln!(out, "           wired to {}", client.server);
            for (i, m) in client.messages.iter().enumerate() {
                let reply = match (&m.reply, &m.error) {
                    (Some(r), _) => r.show(),
                    (None, Some(e)) => e.clone(),
                    (None, None) => "-".to_string(),
                };
                let verdict = if m.ok { "ok" } else { "FAILED" };
                let _ = writeln!(
                    out,
                    "  #{:<3} sent {} ({} B) -> {} {} ({} B) in {:.0} us  {verdict}",
                    i + 1,
                    m.message.show(),
                    m.bytes_sent,
                    m.status.name(),
                    reply,
                    m.reply_bytes,
                    m.rtt_us,
                );
            }
        }
        if let Some(Served {
            sessions,
            bytes_in,
            bytes_out,
        }) = self.server.as_ref().and_then(|s| s.served.as_ref())
        {
            let _ = writeln!(
                out,
                "  server served {sessions} session{}, {bytes_in} B in, {bytes_out} B out",
                if *sessions == 1 { "" } else { "s" }
            );
        }
        let refusals: u64 = self.guests().map(|g| g.refused_total).sum();
        if refusals == 0 {
            let _ = writeln!(out, "  refusals: none");
        }
        let interrupted = self.guests().any(|g| g.interrupted);
        let result = match (interrupted, self.ok()) {
            (true, _) => "interrupted",
            (false, true) => "ok",
            (false, false) => "FAILED",
        };
        let _ = writeln!(out, "  result: {result}");
    }
}

fn write_guest(out: &mut String, side: &str, g: &GuestRecord) {
    let sha = &g.sha256[..16];
    let _ = writeln!(out, "  {side:<7}  {} ({}, sha256 {sha})", g.name, g.world);
    let _ = writeln!(out, "           granted: {}", g.grants.join("; "));
    if g.refused_total > 0 {
        let _ = writeln!(out, "           refused {} use(s):", g.refused_total);
        for (what, count) in refusal_summary(&g.refusals) {
            let _ = writeln!(out, "             {count} x {what}");
        }
    }
    for hit in &g.limits {
        let _ = writeln!(out, "           LIMIT {hit}");
    }
    if let Some(usage) = &g.usage {
        let _ = writeln!(out, "           used: {usage}");
    }
    if let Some(e) = &g.error {
        let _ = writeln!(out, "           ERROR: {e}");
    }
    if let Some(text) = &g.stdout {
        write_stdout(out, text);
    }
    if g.interrupted {
        let _ = writeln!(
            out,
            "           interrupted by Ctrl-C before it reported{}",
            if side == "client" {
                " its messages"
            } else {
                ""
            }
        );
    }
    if g.cancelled {
        let _ = writeln!(
            out,
            "           cancelled at the end: it never polls its stop signal, so it left no report"
        );
    }
}

/// Lines a transcript shows of a guest's stdout before pointing to `--json`.
const STDOUT_LINES: usize = 20;

/// A guest's stdout under its name: `stdout |` and each line.
fn write_stdout(out: &mut String, text: &str) {
    let lines: Vec<&str> = text.lines().collect();
    for line in lines.iter().take(STDOUT_LINES) {
        let _ = writeln!(out, "           stdout | {line}");
    }
    if lines.len() > STDOUT_LINES {
        let _ = writeln!(
            out,
            "           stdout | ... {} more lines (`--json` has them all)",
            lines.len() - STDOUT_LINES
        );
    }
}

/// Refusals grouped by operation, target and rule, in first-seen order.
fn refusal_summary(refusals: &[Refusal]) -> Vec<(String, usize)> {
    let mut groups: Vec<(String, usize)> = Vec::new();
    for r in refusals {
        let seen = if r.silent {
            "dropped before the guest saw it"
        } else {
            "access-denied"
        };
        let what = format!("{} {} ({}; {seen})", r.op.name(), r.target, r.rule);
        match groups.iter_mut().find(|(w, _)| *w == what) {
            Some((_, n)) => *n += 1,
            None => groups.push((what, 1)),
        }
    }
    groups
}
