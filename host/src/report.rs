//! What a run showed: records of each guest and each message, the readable
//! transcript, the JSON document, and the exit code.
//!
//! Reports go to stdout (one JSON document with `--json`); logs and the
//! `listening on` line go to stderr.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use serde::Serialize;

use crate::exchange::ClientSpec;
use crate::grants::{Policy, Refusal};
use crate::lab::Guest;
use crate::limits::LimitHit;
use crate::roles::Transport;
use crate::roles::bindings::socklab::lab::types::{ClientReport, Reply, ServerReport};
use crate::run::{Failure, Outcome};

/// socklab's version, recorded in every report.
pub const SOCKLAB_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The wasmtime version socklab was built with (read from `Cargo.lock`).
pub const WASMTIME_VERSION: &str = env!("SOCKLAB_WASMTIME_VERSION");

/// Exit codes: every exchange succeeded.
pub const EXIT_OK: i32 = 0;
/// An exchange failed: a reply lost or wrong, a refusal, a guest error.
pub const EXIT_FAILED: i32 = 1;
/// Bad input or usage.
pub const EXIT_BAD_INPUT: i32 = 2;
/// A limit stopped or refused a guest.
pub const EXIT_LIMIT: i32 = 3;
/// Ctrl-C or SIGTERM cut the command short (128 + SIGINT, as shells say).
pub const EXIT_INTERRUPTED: i32 = 130;

/// What counts as a right reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// Any complete reply (a line, a datagram, or bytes before a close).
    Any,
    /// The message itself back (for TCP, with its `\n`).
    Echo,
}

/// Bytes as JSON: text when valid UTF-8, base64 otherwise.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Payload {
    Text(String),
    Base64(String),
}

impl Payload {
    pub fn of(bytes: &[u8]) -> Payload {
        match std::str::from_utf8(bytes) {
            Ok(text) => Payload::Text(text.to_string()),
            Err(_) => Payload::Base64(base64::engine::general_purpose::STANDARD.encode(bytes)),
        }
    }

    /// As a transcript shows it: quoted and escaped, or a byte count.
    fn show(&self) -> String {
        match self {
            Payload::Text(t) => format!("{t:?}"),
            Payload::Base64(b) => format!("<binary, base64 {b}>"),
        }
    }
}

/// The whole report of one command.
#[derive(Debug, Serialize)]
pub struct Report {
    pub socklab: &'static str,
    pub wasmtime: &'static str,
    pub runs: Vec<Run>,
}

/// One server, one client, or both wired together.
#[derive(Debug, Serialize)]
pub struct Run {
    pub transport: Transport,
    pub server: Option<ServerRecord>,
    pub client: Option<ClientRecord>,
}

/// A guest, what it was granted, and how its run ended.
#[derive(Debug, Serialize)]
pub struct GuestRecord {
    pub name: String,
    pub path: String,
    pub sha256: String,
    pub world: &'static str,
    /// The rules in force, as `op target`.
    pub grants: Vec<String>,
    /// Every use that was refused (the first thousand; the audit file has
    /// all of them).
    pub refusals: Vec<Refusal>,
    /// How many uses were refused in all.
    pub refused_total: u64,
    /// Limits the guest ran into.
    pub limits: Vec<LimitHit>,
    /// Why the guest failed, if it did.
    pub error: Option<String>,
    /// Whether the host had to cancel it (a server that never polls its stop
    /// signal); it then left no report, which is not an error.
    pub cancelled: bool,
    /// Whether Ctrl-C or SIGTERM stopped it before it returned (a client
    /// then leaves no messages: it reports them only at its end).
    pub interrupted: bool,
    /// The guest's stderr, when it failed and wrote any.
    pub stderr: Option<String>,
    /// What the guest printed on stdout, when it printed anything (at most
    /// 64 KiB are kept).
    pub stdout: Option<String>,
}

impl GuestRecord {
    fn new<T>(guest: &Guest, policy: &Policy, outcome: &Outcome<T>) -> GuestRecord {
        let cancelled = matches!(outcome.result, Err(Failure::Cancelled));
        let interrupted = matches!(outcome.result, Err(Failure::Interrupted));
        let error = outcome
            .result
            .as_ref()
            .err()
            .filter(|_| !cancelled && !interrupted)
            .map(|e| e.to_string());
        let stderr =
            (error.is_some() && !outcome.stderr.is_empty()).then(|| outcome.stderr.clone());
        let stdout = (!outcome.stdout.is_empty()).then(|| outcome.stdout.clone());
        GuestRecord {
            name: guest.name.clone(),
            path: guest.path.display().to_string(),
            sha256: guest.sha256.clone(),
            world: guest.role.world(),
            grants: policy.describe(),
            refused_total: policy.refused_total(),
            limits: outcome.limits.clone(),
            refusals: policy.refusals(),
            cancelled,
            interrupted,
            error,
            stderr,
            stdout,
        }
    }

    fn ok(&self) -> bool {
        self.error.is_none()
            && self.refused_total == 0
            && self.limits.is_empty()
            && !self.interrupted
    }
}

/// A server's record.
#[derive(Debug, Serialize)]
pub struct ServerRecord {
    #[serde(flatten)]
    pub guest: GuestRecord,
    /// Where it listened, once it said.
    pub listening: Option<SocketAddr>,
    pub served: Option<Served>,
}

/// What a server reported.
#[derive(Debug, Serialize)]
pub struct Served {
    pub sessions: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl ServerRecord {
    pub fn new(
        guest: &Arc<Guest>,
        policy: &Policy,
        listening: Option<SocketAddr>,
        outcome: Outcome<ServerReport>,
    ) -> ServerRecord {
        let record = GuestRecord::new(guest, policy, &outcome);
        let served = outcome.result.ok().map(|r| Served {
            sessions: r.sessions,
            bytes_in: r.bytes_in,
            bytes_out: r.bytes_out,
        });
        ServerRecord {
            guest: record,
            listening,
            served,
        }
    }
}

/// A client's record: its guest and each message.
#[derive(Debug, Serialize)]
pub struct ClientRecord {
    #[serde(flatten)]
    pub guest: GuestRecord,
    /// The server it was wired to.
    pub server: SocketAddr,
    pub expect: Expect,
    pub messages: Vec<MessageRecord>,
}

/// One message and what came back.
#[derive(Debug, Serialize)]
pub struct MessageRecord {
    pub message: Payload,
    pub bytes_sent: u64,
    /// `complete`, `closed`, `timed-out`, `lost` or `send-failed`.
    pub status: &'static str,
    pub reply: Option<Payload>,
    pub reply_bytes: u64,
    /// Round-trip time in microseconds.
    pub rtt_us: f64,
    /// Why the message failed to send.
    pub error: Option<String>,
    /// Whether this exchange counts as a success under `expect`.
    pub ok: bool,
}

impl ClientRecord {
    pub fn new(
        spec: &ClientSpec,
        policy: &Policy,
        server: SocketAddr,
        outcome: Outcome<ClientReport>,
    ) -> ClientRecord {
        let guest = GuestRecord::new(&spec.guest, policy, &outcome);
        let transport = spec.guest.role.transport;
        let messages = match outcome.result {
            Ok(report) => report
                .exchanges
                .into_iter()
                .zip(&spec.messages)
                .map(|(x, message)| {
                    let (status, reply, error) = match x.reply {
                        Reply::Complete(r) => ("complete", Some(r), None),
                        Reply::Closed(r) => ("closed", Some(r), None),
                        Reply::TimedOut(r) => ("timed-out", Some(r), None),
                        Reply::Lost => ("lost", None, None),
                        Reply::SendFailed(e) => ("send-failed", None, Some(e)),
                    };
                    let ok = match (status, &reply) {
                        ("complete", Some(r)) => spec.expect.accepts(transport, message, r),
                        ("closed", Some(r)) => {
                            !r.is_empty() && spec.expect.accepts(transport, message, r)
                        }
                        _ => false,
                    };
                    MessageRecord {
                        message: Payload::of(message),
                        bytes_sent: x.bytes_sent,
                        status,
                        reply_bytes: reply.as_ref().map_or(0, |r| r.len() as u64),
                        reply: reply.as_deref().map(Payload::of),
                        rtt_us: x.rtt_ns as f64 / 1_000.0,
                        error,
                        ok,
                    }
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        ClientRecord {
            guest,
            server,
            expect: spec.expect,
            messages,
        }
    }
}

impl Expect {
    fn accepts(self, transport: Transport, message: &[u8], reply: &[u8]) -> bool {
        match self {
            Expect::Any => true,
            Expect::Echo => match transport {
                // A line-framed echo; a server that replies and closes may
                // leave the newline out.
                Transport::Tcp => reply.strip_suffix(b"\n").unwrap_or(reply) == message,
                Transport::Udp => reply == message,
            },
        }
    }
}

impl Run {
    /// Whether everything in this run succeeded: no guest error, no refusal,
    /// every message answered as expected.
    pub fn ok(&self) -> bool {
        let server_ok = self.server.as_ref().is_none_or(|s| s.guest.ok());
        let client_ok = self
            .client
            .as_ref()
            .is_none_or(|c| c.guest.ok() && c.messages.iter().all(|m| m.ok));
        server_ok && client_ok
    }
}

impl Report {
    pub fn new(runs: Vec<Run>) -> Report {
        Report {
            socklab: SOCKLAB_VERSION,
            wasmtime: WASMTIME_VERSION,
            runs,
        }
    }

    /// Whether Ctrl-C or SIGTERM cut a guest short.
    pub fn interrupted(&self) -> bool {
        self.guests().any(|g| g.interrupted)
    }

    fn guests(&self) -> impl Iterator<Item = &GuestRecord> {
        self.runs.iter().flat_map(|r| {
            [
                r.server.as_ref().map(|s| &s.guest),
                r.client.as_ref().map(|c| &c.guest),
            ]
            .into_iter()
            .flatten()
        })
    }

    pub fn exit_code(&self) -> i32 {
        let limited = self.guests().any(|g| !g.limits.is_empty());
        if self.interrupted() {
            EXIT_INTERRUPTED
        } else if limited {
            EXIT_LIMIT
        } else if self.runs.iter().all(Run::ok) {
            EXIT_OK
        } else {
            EXIT_FAILED
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports always serialise")
    }

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

impl Run {
    fn write_transcript(&self, out: &mut String) {
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
                    m.status,
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
        let refusals: usize = [
            self.server.as_ref().map(|s| &s.guest),
            self.client.as_ref().map(|c| &c.guest),
        ]
        .into_iter()
        .flatten()
        .map(|g| g.refused_total as usize)
        .sum();
        if refusals == 0 {
            let _ = writeln!(out, "  refusals: none");
        }
        let interrupted = [
            &self.server.as_ref().map(|s| &s.guest),
            &self.client.as_ref().map(|c| &c.guest),
        ]
        .into_iter()
        .flatten()
        .any(|g| g.interrupted);
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
