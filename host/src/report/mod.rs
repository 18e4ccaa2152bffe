//! What a run showed: records built from each guest's runtime outcome
//! ([`records`]), the readable transcript ([`transcript`]), the JSON
//! document, and the verdict the exit code is made from.
//!
//! Reports go to stdout (one JSON document with `--json`); logs and the
//! `listening on` line go to stderr.

pub mod records;
pub mod transcript;

use serde::Serialize;

pub use self::records::{
    ClientRecord, Expect, GuestRecord, MessageRecord, Payload, ReplyStatus, Served, ServerRecord,
};
use crate::roles::Transport;
use crate::version::{SOCKLAB_VERSION, WASMTIME_VERSION};

/// How a command went, in the terms its exit code is made from
/// (`cli::exit` maps each to its number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Everything succeeded.
    Ok,
    /// Something failed: a reply lost or wrong, a refusal, a guest error.
    Failed,
    /// A limit stopped or refused a guest.
    Limit,
    /// Ctrl-C or SIGTERM cut the command short.
    Interrupted,
    /// A `wasi:cli` command exited with this status.
    Exited(i32),
}

/// The whole report of one command.
#[derive(Debug, Serialize)]
pub struct Report {
    /// socklab's version.
    pub socklab: &'static str,
    /// The wasmtime version the guests ran on.
    pub wasmtime: &'static str,
    /// Each exchange (the JSON says `runs`).
    pub runs: Vec<ExchangeRecord>,
}

/// One server, one client, or both wired together.
#[derive(Debug, Serialize)]
pub struct ExchangeRecord {
    /// The exchange's transport.
    pub transport: Transport,
    /// The server's record, if one ran.
    pub server: Option<ServerRecord>,
    /// The client's record, if one ran.
    pub client: Option<ClientRecord>,
}

impl ExchangeRecord {
    /// Whether everything in this exchange succeeded: no guest error, no
    /// refusal, every message answered as expected.
    pub fn ok(&self) -> bool {
        let server_ok = self.server.as_ref().is_none_or(|s| s.guest.ok());
        let client_ok = self
            .client
            .as_ref()
            .is_none_or(|c| c.guest.ok() && c.messages.iter().all(|m| m.ok));
        server_ok && client_ok
    }

    /// Its guests' records, the server's first.
    pub fn guests(&self) -> impl Iterator<Item = &GuestRecord> {
        [
            self.server.as_ref().map(|s| &s.guest),
            self.client.as_ref().map(|c| &c.guest),
        ]
        .into_iter()
        .flatten()
    }
}

impl Report {
    /// A report of `runs`, with the versions.
    pub fn new(runs: Vec<ExchangeRecord>) -> Report {
        Report {
            socklab: SOCKLAB_VERSION,
            wasmtime: WASMTIME_VERSION,
            runs,
        }
    }

    /// Whether Ctrl-C or SIGTERM cut a guest short.
    pub fn interrupted(&self) -> bool {
        self.runs
            .iter()
            .flat_map(|r| r.guests())
            .any(|g| g.interrupted)
    }

    /// Interrupted, else stopped by a limit, else ok or failed.
    pub fn verdict(&self) -> Verdict {
        let limited = self
            .runs
            .iter()
            .flat_map(|r| r.guests())
            .any(|g| !g.limits.is_empty());
        if self.interrupted() {
            Verdict::Interrupted
        } else if limited {
            Verdict::Limit
        } else if self.runs.iter().all(ExchangeRecord::ok) {
            Verdict::Ok
        } else {
            Verdict::Failed
        }
    }

    /// The JSON document `--json` prints.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports always serialise")
    }
}
