//! The rows about guests themselves rather than their traffic: how long a
//! guest takes to start (cold, from the compiled cache, from its
//! `InstancePre`) and how much memory an idle one holds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use super::Ctx;
use super::table::{Goal, Row, median};
use crate::exchange::{self, ServerSpec};
use crate::grants::{Policy, UserRules, wiring};
use crate::limits::Limits;
use crate::runtime::cache::Cache;
use crate::runtime::call;
use crate::runtime::state::Sandbox;
use crate::runtime::{Guest, Runtime};

/// The guest every start and memory row uses: the bundled TCP server.
const GUEST: &str = "tcp-echo-server";

/// A store for `guest` as `serve` makes one (grants, limits, audit), and
/// the guest instantiated in it; how long both took.
async fn instantiate(runtime: &Runtime, guest: &Guest) -> Result<Duration> {
    let listen = "127.0.0.1:0".parse().unwrap();
    let start = Instant::now();
    let label = format!("server {}", guest.name);
    let policy = Policy::new(
        label.clone(),
        wiring::tcp_server(listen),
        &UserRules::default(),
        runtime.audit.clone(),
    );
    let sandbox = Sandbox {
        label,
        transport: Some(guest.role.transport),
        policy,
        limits: Limits::default(),
        verbose: false,
        node: None,
    };
    call::instantiate(runtime, guest, sandbox)
        .await
        .map_err(|e| anyhow!("instantiating {}: {e}", guest.name))?;
    Ok(start.elapsed())
}

/// A fresh runtime (engine, linker) that loads [`GUEST`] and instantiates
/// it, through `cache` if given: how long it all took.
async fn cold_start(ctx: &Ctx, cache: Option<&std::path::Path>) -> Result<Duration> {
    let start = Instant::now();
    let mut runtime = Runtime::of(ctx.flavor, ctx.guest_dir.clone())?;
    runtime.audit = ctx.runtime.audit.clone();
    if let Some(dir) = cache {
        runtime.cache = Some(Cache::open(dir.to_path_buf())?);
    }
    let guest = runtime.load(GUEST)?;
    instantiate(&runtime, &guest).await?;
    Ok(start.elapsed())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Cold start without and with the compiled cache, and instantiation.
pub async fn start(ctx: &Ctx) -> Result<Vec<Row>> {
    let scale = &ctx.scale;
    let mut cold = Vec::new();
    for _ in 0..scale.cold_loads {
        cold.push(ms(cold_start(ctx, None).await?));
    }
    // A cache of its own, filled once, so every warm start reads an entry.
    let cache = ctx.scratch.path().join("start-cache");
    cold_start(ctx, Some(&cache)).await?;
    let mut warm = Vec::new();
    for _ in 0..scale.warm_loads {
        warm.push(ms(cold_start(ctx, Some(&cache)).await?));
    }
    let guest = ctx.runtime.load(GUEST)?;
    let mut inst = Vec::new();
    for _ in 0..scale.instantiations {
        inst.push(instantiate(&ctx.runtime, &guest).await?.as_secs_f64() * 1e6);
    }
    Ok(vec![
        Row::alone(
            "start-cold",
            format!(
                "new engine, load, compile and instantiate {GUEST}, no cache (median of {})",
                cold.len()
            ),
            "ms",
            median(&cold),
            Goal::None,
        ),
        Row::alone(
            "start-warm",
            format!(
                "new engine, load {GUEST} from the compiled cache, instantiate (median of {})",
                warm.len()
            ),
            "ms",
            median(&warm),
            Goal::AtMost(5.0),
        ),
        Row::alone(
            "instantiate",
            format!(
                "new store and instance of {GUEST} from its InstancePre (median of {})",
                inst.len()
            ),
            "us",
            median(&inst),
            Goal::AtMost(100.0),
        ),
    ])
}

/// This process's resident memory, in bytes (`/proc/self/statm`).
fn resident_bytes() -> Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").context("reading /proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .context("parsing /proc/self/statm")?;
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Ok(pages * u64::try_from(page).unwrap_or(4096))
}

/// Resident memory per idle guest: RSS with N `tcp-echo-server`s
/// listening, less RSS before, over N.
pub async fn memory(ctx: &Ctx) -> Result<Vec<Row>> {
    let n = ctx.scale.idle_guests;
    let what = format!("resident memory per idle {GUEST}, {n} listening at once");
    if !std::path::Path::new("/proc/self/statm").exists() {
        return Ok(vec![Row::not_measured(
            "memory-per-guest",
            what,
            "MiB",
            Goal::AtMost(2.0),
            "no /proc/self/statm on this system",
        )]);
    }
    let guest = ctx.runtime.load(GUEST)?;
    let start = |guest: &Arc<Guest>| {
        let spec = ServerSpec::new(guest.clone(), "127.0.0.1:0".parse().unwrap());
        exchange::start_server(&ctx.runtime, spec)
    };
    // One guest started and stopped first, so one-time costs (the code's
    // pages, the runtime's threads) are in the "before" figure.
    if let Ok(first) = start(&guest).await {
        first.stop().await;
    }
    // Freed heap the process keeps (see `keep_freed_memory` in runtime/engine.rs) would
    // be reused by the new guests without showing in RSS: give it back first.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    let before = resident_bytes()?;
    let mut running = Vec::with_capacity(n);
    for _ in 0..n {
        match start(&guest).await {
            Ok(server) => running.push(server),
            Err(_) => break,
        }
    }
    let after = resident_bytes()?;
    let started = running.len();
    for server in running {
        server.stop().await;
    }
    if started < n {
        return Err(anyhow!("only {started} of {n} idle guests started"));
    }
    let per_guest = after.saturating_sub(before) as f64 / n as f64 / (1 << 20) as f64;
    let mib = |bytes: u64| bytes as f64 / (1 << 20) as f64;
    let note = format!(
        "process RSS {:.1} MiB before, {:.1} MiB with {n} idle guests",
        mib(before),
        mib(after)
    );
    Ok(vec![
        Row::alone(
            "memory-per-guest",
            what,
            "MiB",
            per_guest,
            Goal::AtMost(2.0),
        )
        .note(Some(note)),
    ])
}
