//! Experiment files: the TOML that `socklab lab FILE` reads, as written
//! ([`FileDoc`]), every value's parser and bound, and the one-line error
//! that names the file, the line and the field. `plan` turns a document
//! into a [`Plan`](super::plan::Plan). A link direction's table,
//! [`ImpairDoc`], is in `impair`.
//!
//! ```toml
//! seed = 7                       # every random fate is drawn from it
//! repeats = 1
//! [messages]                     # for every client, unless it has its own
//! count = 200                    # generated: `#000001 xxx…`, numbered
//! size = 64
//! [nodes.server]
//! guest = "udp-echo-server"      # a bundled name or a path
//! listen = "127.0.0.1:0"
//! [nodes.client]
//! guest = "udp-client"
//! timeout = "300ms"
//! [[links]]
//! from = "@client"
//! to = "@server"
//! both = { loss = "30%" }        # or to_server = {...}, to_client = {...}
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

use crate::limits::{parse_duration, parse_size};

mod impair;

pub use impair::{BurstDoc, ImpairDoc};

/// The whole file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDoc {
    /// A title for the report.
    pub name: Option<String>,
    /// The seed every fate is drawn from; the same seed gives the same fates.
    #[serde(default)]
    pub seed: u64,
    /// How many times the clients run, one round after another (1 to 1000).
    pub repeats: Option<Bounded<1, 1000>>,
    /// The messages of every client that does not list its own.
    pub messages: Option<MessagesDoc>,
    /// The guests, by name; links refer to them as `@name`.
    #[serde(default)]
    pub nodes: BTreeMap<String, Spanned<NodeDoc>>,
    /// Which client is wired to which server, and how the path misbehaves.
    #[serde(default)]
    pub links: Vec<Spanned<LinkDoc>>,
    /// Where it runs: `"real"` (the default) or `"simulated"`, as
    /// `--network` says.
    pub network: Option<Spanned<NetworkDoc>>,
}

/// `network = "real"` or `network = "simulated"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkDoc {
    /// The host's network, through impairing relays.
    Real,
    /// socklab's simulated network, its links impairing.
    Simulated,
}

/// Where a client's messages come from: exactly one of `inline`, `file`, or
/// `count` (with `size`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagesDoc {
    /// The messages themselves.
    pub inline: Option<Spanned<Vec<String>>>,
    /// A file with one message per line, relative to the experiment file.
    pub file: Option<Spanned<PathBuf>>,
    /// Generate this many messages, each starting with its sequence number.
    pub count: Option<Spanned<Bounded<1, { MAX_MESSAGES as u64 }>>>,
    /// The generated messages' size in bytes (default 64).
    pub size: Option<Spanned<Size>>,
}

/// One guest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeDoc {
    /// A bundled guest's name or a component file.
    pub guest: String,
    /// `server` or `client`: checked against the guest's exports.
    pub role: Option<String>,
    /// Servers: where to listen (default `127.0.0.1:0`).
    pub listen: Option<SocketAddr>,
    /// Clients: how long to wait for each reply (default 2 s).
    pub timeout: Option<Dur>,
    /// Clients: how many copies run at once, each on its own link (1 to
    /// 1000).
    pub instances: Option<Bounded<1, 1000>>,
    /// Clients: their own messages.
    pub messages: Option<MessagesDoc>,
    /// Key/value parameters passed to the guest.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Grant rules in the sandbox's syntax (`tcp-connect=127.0.0.1:*`).
    #[serde(default)]
    pub allow: Vec<String>,
    /// Deny rules, which win over any allow.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Linear memory for the guest (at most 4GiB).
    pub memory_limit: Option<MemoryLimit>,
    /// CPU time for the guest (at least 10ms).
    pub cpu_limit: Option<CpuLimit>,
    /// Wall-clock time per run of the guest.
    pub deadline: Option<Dur>,
}

/// A client wired to a server through the host's relay.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkDoc {
    /// `@client-node`.
    pub from: Spanned<String>,
    /// `@server-node`.
    pub to: Spanned<String>,
    /// Impairments applied in both directions (a direction's own table adds
    /// to and overrides these).
    pub both: Option<Spanned<ImpairDoc>>,
    /// Client → server.
    pub to_server: Option<Spanned<ImpairDoc>>,
    /// Server → client.
    pub to_client: Option<Spanned<ImpairDoc>>,
}

/// A probability: a bare number in [0, 1] (`0.3`), or a percentage written
/// with its sign (`"30%"`). Held as the probability.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percent(pub f64);

/// The most messages one client node may send per round, and the whole
/// experiment in all (every instance, every round).
pub const MAX_MESSAGES: usize = 1_000_000;

/// A whole number from `MIN` to `MAX`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounded<const MIN: u64, const MAX: u64>(pub u64);

/// A memory limit: a size no larger than a wasm32 guest can address.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryLimit(pub u64);

/// A CPU limit: a duration no shorter than the limit's resolution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuLimit(pub Duration);

/// A duration: `"50ms"`, `"1.5s"`, `"2s 500ms"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dur(pub Duration);

/// A size in bytes: `1400`, `"64KiB"`, `"1MB"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Size(pub u64);

/// Bytes per second: `"1MiB/s"`, `"500KB/s"`, or a plain number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate(pub u64);

/// Reads a value written as a string or a number; `parse` gets its text.
struct TextOrNumber<T> {
    expecting: &'static str,
    parse: fn(&str) -> Result<T, String>,
}

impl<T> Visitor<'_> for TextOrNumber<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        (self.parse)(&v.to_string()).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        (self.parse)(&v.to_string()).map_err(E::custom)
    }
}

macro_rules! text_or_number {
    ($ty:ident, $expecting:literal, $parse:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                d.deserialize_any(TextOrNumber {
                    expecting: $expecting,
                    parse: $parse,
                })
            }
        }
    };
}

text_or_number!(Percent, "a probability such as 0.3 or \"30%\"", |text| {
    let text = text.trim();
    match text.strip_suffix('%') {
        Some(number) => match number.trim().parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => Ok(Percent(p / 100.0)),
            _ => Err(format!(
                "`{text}` is not a percentage from 0% to 100% (write \"30%\")"
            )),
        },
        None => match text.parse::<f64>() {
            Ok(p) if (0.0..=1.0).contains(&p) => Ok(Percent(p)),
            Ok(p) if (1.0..=100.0).contains(&p) => Err(format!(
                "`{text}` is not a probability from 0 to 1; for {text} percent write \"{text}%\" (or {})",
                p / 100.0
            )),
            _ => Err(format!(
                "`{text}` is not a probability from 0 to 1 (write 0.3, or \"30%\")"
            )),
        },
    }
});

text_or_number!(MemoryLimit, "a size such as \"64MiB\"", |text| {
    crate::limits::parse_memory_limit(text).map(MemoryLimit)
});

text_or_number!(CpuLimit, "a duration such as \"2s\"", |text| {
    crate::limits::parse_cpu_limit(text).map(CpuLimit)
});

impl<'de, const MIN: u64, const MAX: u64> Deserialize<'de> for Bounded<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        match u64::try_from(n) {
            Ok(n) if (MIN..=MAX).contains(&n) => Ok(Bounded(n)),
            _ => Err(de::Error::custom(format!(
                "`{n}` is not from {MIN} to {MAX}"
            ))),
        }
    }
}

text_or_number!(Dur, "a duration such as \"50ms\"", |text| {
    if text.trim() == "0" {
        return Ok(Dur(Duration::ZERO));
    }
    parse_duration(text).map(Dur)
});

text_or_number!(Size, "a size such as 1400 or \"64KiB\"", |text| {
    parse_size(text).map(Size)
});

text_or_number!(Rate, "a rate such as \"1MiB/s\"", |text| {
    let size = text.trim().strip_suffix("/s").unwrap_or(text);
    match parse_size(size) {
        Ok(0) => Err(format!("a rate of `{text}` would carry nothing; drop it")),
        Ok(n) => Ok(Rate(n)),
        Err(_) => Err(format!(
            "`{text}` is not a rate; write bytes per second such as \"1MiB/s\""
        )),
    }
});

mod error;
#[cfg(test)]
mod tests;

pub use error::{FileError, parse};
