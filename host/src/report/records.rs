//! The records of one guest's run, built from its runtime outcome: what it
//! was granted, what it was refused, the limits it ran into, how it ended,
//! and for a client each message and its reply.

use std::net::SocketAddr;

use base64::Engine as _;
use serde::Serialize;

use crate::grants::{Policy, Refusal};
use crate::limits::{LimitHit, Usage};
use crate::roles::Transport;
use crate::roles::bindings::socklab::lab::types::{
    ClientConfig, ClientReport, Exchange, Reply, ServerReport,
};
use crate::runtime::{Failure, Guest, Outcome};

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
    /// Valid UTF-8, as text.
    Text(String),
    /// Anything else, as base64.
    Base64(String),
}

impl Payload {
    /// `bytes` as text if they can be, else base64.
    pub fn of(bytes: &[u8]) -> Payload {
        match std::str::from_utf8(bytes) {
            Ok(text) => Payload::Text(text.to_string()),
            Err(_) => Payload::Base64(base64::engine::general_purpose::STANDARD.encode(bytes)),
        }
    }

    /// As a transcript shows it: quoted and escaped, or a byte count.
    pub fn show(&self) -> String {
        match self {
            Payload::Text(t) => format!("{t:?}"),
            Payload::Base64(b) => format!("<binary, base64 {b}>"),
        }
    }
}

/// A guest, what it was granted, and how its run ended.
#[derive(Debug, Serialize)]
pub struct GuestRecord {
    /// What the user named it.
    pub name: String,
    /// Its file; left out on the simulated network, whose reports name
    /// guests by name and SHA-256 only, so that they repeat on any machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Its SHA-256, hex: the report names exactly what ran.
    pub sha256: String,
    /// Its role's world: `tcp-server`, ...
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
    /// What it used, on the simulated network: fuel, simulated CPU time
    /// and peak memory (left out on the real network).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
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
            path: (!crate::runtime::tasks::simulated()).then(|| guest.path.display().to_string()),
            sha256: guest.sha256.clone(),
            world: guest.role.world(),
            grants: policy.describe(),
            refused_total: policy.refused_total(),
            limits: outcome.limits.clone(),
            usage: outcome.usage,
            refusals: policy.refusals(),
            cancelled,
            interrupted,
            error,
            stderr,
            stdout,
        }
    }

    /// Whether the guest ran without error, refusal or limit.
    pub fn ok(&self) -> bool {
        self.error.is_none()
            && self.refused_total == 0
            && self.limits.is_empty()
            && !self.interrupted
    }
}

/// A server's record.
#[derive(Debug, Serialize)]
pub struct ServerRecord {
    /// The guest, its grants and how it ended.
    #[serde(flatten)]
    pub guest: GuestRecord,
    /// Where it listened, once it said.
    pub listening: Option<SocketAddr>,
    /// What it reported, if it returned a report.
    pub served: Option<Served>,
}

/// What a server reported.
#[derive(Debug, Serialize)]
pub struct Served {
    /// Sessions served.
    pub sessions: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
}

impl ServerRecord {
    /// The record of `guest`'s run: its grants, refusals, limits and how its outcome ended.
    pub fn new(
        guest: &Guest,
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
    /// The guest, its grants and how it ended.
    #[serde(flatten)]
    pub guest: GuestRecord,
    /// The server it was wired to.
    pub server: SocketAddr,
    /// What counted as a right reply.
    pub expect: Expect,
    /// Each message, in order.
    pub messages: Vec<MessageRecord>,
}

/// One message and what came back.
#[derive(Debug, Serialize)]
pub struct MessageRecord {
    /// The message.
    pub message: Payload,
    /// Bytes handed to the network, framing included.
    pub bytes_sent: u64,
    /// How its reply ended.
    pub status: ReplyStatus,
    /// The reply, if any bytes came.
    pub reply: Option<Payload>,
    /// Bytes of the reply.
    pub reply_bytes: u64,
    /// Round-trip time in microseconds.
    pub rtt_us: f64,
    /// Why the message failed to send.
    pub error: Option<String>,
    /// Whether this exchange counts as a success under `expect`.
    pub ok: bool,
}

impl ClientRecord {
    /// The record of `guest`'s run against `server`: each message of
    /// `config` with the reply the outcome holds for it, judged by `expect`.
    pub fn new(
        guest: &Guest,
        policy: &Policy,
        server: SocketAddr,
        config: &ClientConfig,
        expect: Expect,
        outcome: Outcome<ClientReport>,
    ) -> ClientRecord {
        let record = GuestRecord::new(guest, policy, &outcome);
        let transport = guest.role.transport;
        let messages = match outcome.result {
            Ok(report) => report
                .exchanges
                .into_iter()
                .zip(&config.messages)
                .map(|(x, message)| MessageRecord::new(transport, expect, message, x))
                .collect(),
            Err(_) => Vec::new(),
        };
        ClientRecord {
            guest: record,
            server,
            expect,
            messages,
        }
    }
}

/// How a message's reply ended, as the guest reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplyStatus {
    /// A whole reply: a line (TCP) or a datagram (UDP).
    Complete,
    /// TCP: the server closed the connection before a `\n`.
    Closed,
    /// TCP: no `\n` and no close before the timeout.
    TimedOut,
    /// UDP: no datagram before the timeout.
    Lost,
    /// The message could not be sent.
    SendFailed,
}

impl ReplyStatus {
    /// As the transcript shows it: `complete`, `timed-out`, ...
    pub fn name(self) -> &'static str {
        match self {
            ReplyStatus::Complete => "complete",
            ReplyStatus::Closed => "closed",
            ReplyStatus::TimedOut => "timed-out",
            ReplyStatus::Lost => "lost",
            ReplyStatus::SendFailed => "send-failed",
        }
    }
}

impl MessageRecord {
    fn new(transport: Transport, expect: Expect, message: &[u8], x: Exchange) -> MessageRecord {
        let (status, reply, error) = match x.reply {
            Reply::Complete(r) => (ReplyStatus::Complete, Some(r), None),
            Reply::Closed(r) => (ReplyStatus::Closed, Some(r), None),
            Reply::TimedOut(r) => (ReplyStatus::TimedOut, Some(r), None),
            Reply::Lost => (ReplyStatus::Lost, None, None),
            Reply::SendFailed(e) => (ReplyStatus::SendFailed, None, Some(e)),
        };
        let ok = match (status, &reply) {
            (ReplyStatus::Complete, Some(r)) => expect.accepts(transport, message, r),
            (ReplyStatus::Closed, Some(r)) => {
                !r.is_empty() && expect.accepts(transport, message, r)
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
