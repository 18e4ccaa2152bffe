//! Resource limits per guest: what each one may take of memory, CPU time,
//! sockets, connections and wall-clock time, and how a limit that trips is
//! recorded.
//!
//! - Memory: linear memory growth is refused past `memory` (a
//!   `ResourceLimiter`); the guest traps and the report names the limit.
//! - CPU: time spent executing the guest's code, measured by a call hook
//!   (time in wasm, not in host calls) and checked on every epoch tick
//!   (every [`TICK`]). The tick callback also yields to the async runtime, so
//!   a guest that spins without ever calling the host cannot starve the
//!   guests sharing its thread.
//! - Sockets: counted at create and accept; past `max_sockets` the guest
//!   gets `new-socket-limit`, not a trap.
//! - Connections: open accepted connections per server; a connection past
//!   `max_connections` is closed by the host before the guest sees it.
//! - Deadline: wall-clock time per run.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;
use wasmtime::CallHook;

/// How often the engine's epoch advances, which is the resolution of the
/// CPU limit and how long a spinning guest runs before it yields.
pub const TICK: Duration = Duration::from_millis(10);

/// The limits one guest runs under.
#[derive(Clone, Debug, Serialize)]
pub struct Limits {
    /// Linear memory, in bytes.
    pub memory: u64,
    /// CPU time spent in the guest's code.
    #[serde(serialize_with = "secs")]
    pub cpu: Duration,
    /// Sockets the guest may hold at once.
    pub max_sockets: u32,
    /// Accepted connections a server may have open at once.
    pub max_connections: u32,
    /// Wall-clock time for the whole run, if bounded.
    #[serde(serialize_with = "opt_secs")]
    pub deadline: Option<Duration>,
}

impl Default for Limits {
    /// Generous for an honest guest (a server with a thousand clients fits),
    /// tight enough that a runaway one is stopped in seconds.
    fn default() -> Limits {
        Limits {
            memory: 256 << 20,
            cpu: Duration::from_secs(30),
            max_sockets: 4096,
            max_connections: 2048,
            deadline: None,
        }
    }
}

/// Which limit: each one is a flag of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum LimitKind {
    /// `--memory-limit`: linear memory.
    #[serde(rename = "memory-limit")]
    Memory,
    /// `--cpu-limit`: time in the guest's own code.
    #[serde(rename = "cpu-limit")]
    Cpu,
    /// `--max-sockets`: sockets held at once.
    #[serde(rename = "max-sockets")]
    Sockets,
    /// `--max-connections`: accepted connections open at once.
    #[serde(rename = "max-connections")]
    Connections,
    /// `--deadline`: wall-clock time per run.
    #[serde(rename = "deadline")]
    Deadline,
}

impl LimitKind {
    /// The flag that sets it, without its dashes: `memory-limit`.
    pub fn flag(self) -> &'static str {
        match self {
            LimitKind::Memory => "memory-limit",
            LimitKind::Cpu => "cpu-limit",
            LimitKind::Sockets => "max-sockets",
            LimitKind::Connections => "max-connections",
            LimitKind::Deadline => "deadline",
        }
    }
}

/// A limit a guest ran into.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LimitHit {
    /// Which limit (`memory-limit`, `cpu-limit`, `max-sockets`,
    /// `max-connections`, `deadline` in the JSON).
    pub limit: LimitKind,
    /// Its value, as the flag takes it: `64MiB`, `2s`, `16`.
    pub value: String,
    /// Whether the guest was stopped (memory, CPU, deadline) or only refused
    /// (sockets, connections).
    pub stopped: bool,
    /// How many times it was hit.
    pub count: u64,
}

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "--{} {}", self.limit.flag(), self.value)?;
        if self.stopped {
            f.write_str(" reached; the guest was stopped")
        } else {
            write!(f, " reached {} time(s); the guest was refused", self.count)
        }
    }
}

/// The limits in force for one guest, and what it has used of them.
pub struct Meter {
    /// The limits in force.
    pub limits: Limits,
    /// CPU time used so far, not counting the running segment.
    cpu_used: Duration,
    /// When the guest last started running wasm, if it is running now.
    running_since: Option<Instant>,
    /// Limits hit so far.
    pub hits: Vec<LimitHit>,
}

impl Meter {
    /// A meter of `limits`, nothing used yet.
    pub fn new(limits: Limits) -> Meter {
        Meter {
            limits,
            cpu_used: Duration::ZERO,
            running_since: None,
            hits: Vec::new(),
        }
    }

    /// Record a limit hit (once per limit, counting repeats).
    pub fn hit(&mut self, limit: LimitKind, stopped: bool) {
        if let Some(h) = self.hits.iter_mut().find(|h| h.limit == limit) {
            h.count += 1;
            return;
        }
        let value = match limit {
            LimitKind::Memory => show_size(self.limits.memory),
            LimitKind::Cpu => show_duration(self.limits.cpu),
            LimitKind::Sockets => self.limits.max_sockets.to_string(),
            LimitKind::Connections => self.limits.max_connections.to_string(),
            LimitKind::Deadline => self.limits.deadline.map_or("none".into(), show_duration),
        };
        self.hits.push(LimitHit {
            limit,
            value,
            stopped,
            count: 1,
        });
    }

    /// The limit that stopped the guest, if one did.
    pub fn stopped_by(&self) -> Option<&LimitHit> {
        self.hits.iter().find(|h| h.stopped)
    }

    /// Track transitions in and out of wasm for the CPU measure.
    pub fn on_call_hook(&mut self, hook: CallHook) {
        let now = Instant::now();
        match hook {
            CallHook::CallingWasm | CallHook::ReturningFromHost => self.running_since = Some(now),
            CallHook::CallingHost | CallHook::ReturningFromWasm => {
                if let Some(since) = self.running_since.take() {
                    self.cpu_used += now - since;
                }
            }
        }
    }

    /// On an epoch tick while the guest runs: account the running segment
    /// (at most one tick, since the guest may have been suspended after its
    /// last yield) and say whether the CPU budget is spent.
    pub fn on_tick(&mut self) -> bool {
        let now = Instant::now();
        if let Some(since) = self.running_since {
            self.cpu_used += (now - since).min(TICK);
            self.running_since = Some(now);
        }
        if self.cpu_used > self.limits.cpu {
            self.hit(LimitKind::Cpu, true);
            return true;
        }
        false
    }
}

/// Refuses linear memory growth past the limit, and remembers that it did.
pub struct MemoryLimiter {
    /// The most linear memory, in bytes.
    pub limit: usize,
    /// Whether the guest asked for more.
    pub tripped: bool,
    /// The most linear memory the guest has held, in bytes (every memory
    /// it made, counted at its largest).
    pub peak: usize,
}

/// What a guest used on the simulated network, as its report shows it:
/// its fuel, its simulated CPU time and its peak memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    /// Fuel burnt: about one unit per wasm instruction, the same on every
    /// machine.
    pub fuel: u64,
    /// Calls the guest made into the host, each charged a fixed cost.
    pub host_calls: u64,
    /// Its simulated CPU time, in microseconds: fuel and host calls at
    /// the rates `docs/simulated.md` gives.
    pub cpu_micros: u64,
    /// The most linear memory it held, in bytes.
    pub peak_memory: u64,
}

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cpu {:.6} s ({} fuel, {} host calls), peak memory {}",
            self.cpu_micros as f64 / 1e6,
            self.fuel,
            self.host_calls,
            show_size(self.peak_memory)
        )
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired <= self.limit {
            self.peak += desired - current.min(desired);
        }
        if desired > self.limit {
            self.tripped = true;
            return Err(wasmtime::format_err!(
                "memory limit of {} reached (asked for {})",
                show_size(self.limit as u64),
                show_size(desired as u64)
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a million is far beyond any
        // honest guest and keeps a hostile one from exhausting memory that
        // way.
        Ok(desired <= 1_000_000)
    }
}

/// `64MiB`, `512KiB`, `123B`.
pub fn show_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{}GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{}MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{}KiB", b >> 10),
        b => format!("{b}B"),
    }
}

/// `2s`, `1500ms`.
pub fn show_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string().replace(' ', "")
}

/// Parse `64MiB`, `64M`, `1GiB`, `65536` (bytes).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a size; write e.g. 64MiB"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{unit}`; use B, KiB, MiB or GiB"
            ));
        }
    };
    n.checked_mul(1 << shift)
        .filter(|&b| b > 0)
        .ok_or_else(|| format!("`{text}` is not a usable size"))
}

/// The most linear memory a wasm32 guest can address.
pub const MAX_MEMORY: u64 = 4 << 30;

/// Parse a memory limit: a size no larger than [`MAX_MEMORY`].
pub fn parse_memory_limit(text: &str) -> Result<u64, String> {
    let bytes = parse_size(text)?;
    if bytes > MAX_MEMORY {
        return Err(format!(
            "`{text}` is more than a wasm32 guest can address ({}); give at most 4GiB",
            show_size(MAX_MEMORY)
        ));
    }
    Ok(bytes)
}

/// Parse a CPU limit: a duration no shorter than one [`TICK`], the limit's
/// resolution (a shorter one could never be told from a tick).
pub fn parse_cpu_limit(text: &str) -> Result<Duration, String> {
    let limit = parse_duration(text)?;
    if limit < TICK {
        return Err(format!(
            "`{text}` is under the CPU limit's resolution of {} (one epoch tick); give at least {}",
            show_duration(TICK),
            show_duration(TICK)
        ));
    }
    Ok(limit)
}

/// The largest UDP payload one datagram carries: 65,535 bytes less the IP
/// and UDP headers (20 + 8 over IPv4, 8 over IPv6).
pub fn max_datagram(ipv4: bool) -> usize {
    if ipv4 { 65_507 } else { 65_527 }
}

/// Parse `2s`, `500ms`, `1m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err(format!(
            "`{text}` is zero; give a positive duration such as 2s"
        )),
        Err(e) => Err(format!(
            "`{text}` is not a duration ({e}); write e.g. 2s or 500ms"
        )),
    }
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn opt_secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// Raise the soft open-file limit to the hard one, so that a server guest
/// can hold hundreds of connections (each is a file descriptor of socklab's).
pub fn raise_open_file_limit() {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
