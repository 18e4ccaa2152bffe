//! The engine settings of each kind of runtime, and what keeps an engine
//! going: its epoch ticker, and the allocator setting its guests need.
//!
//! A [`Flavor`] is one engine configuration with the linker that goes with
//! it. On the host's own network there are three: [`REAL`] for WASI 0.2
//! guests, on an engine without concurrency support (so a 0.2 call takes
//! wasmtime's plain async path, never the concurrent one), its twin
//! [`REAL_WASMTIME_UDP`] with wasmtime-wasi's UDP instead of socklab's
//! (for comparison), and [`REAL03`] for WASI 0.3 guests, with the
//! component model's async ABI. A runtime
//! makes its 0.3 engine only when a 0.3 guest is loaded. [`SIMULATED`] runs
//! the WASI 0.2 guests on socklab's simulated network (its own engine
//! settings, sockets and clocks); it has no 0.3 pair yet. Each is one more
//! flavor beside the others, not a branch inside every function.

use anyhow::Result;
use wasmtime::component::Linker;
use wasmtime::{Config, Engine};

use super::link;
use super::state::GuestState;
use crate::limits::TICK;
use crate::roles::Wasi;

/// One engine configuration and the linker that goes with it.
pub struct Flavor {
    /// Its name in reports and errors: `real`, `real-wasi03`.
    pub name: &'static str,
    /// The WASI version of the guests it runs.
    pub wasi: Wasi,
    /// The flavor this one's runtime gives its WASI 0.3 guests (`None`: it
    /// runs none, or it is that flavor).
    pub wasi03: Option<&'static Flavor>,
    /// The engine's settings; the compiled-component cache keys its entries
    /// on them, so each flavor has entries of its own.
    pub config: fn() -> Config,
    /// What the linker offers its guests.
    pub link: fn(&mut Linker<GuestState>) -> Result<()>,
    /// Whether the engine's epoch must tick (the real network's CPU limit).
    pub ticks: bool,
}

/// WASI 0.2 guests on the host's own network: wasmtime-wasi's TCP and
/// socklab's own UDP ([`super::udp`]), with socklab's grants, CPU time
/// measured between epoch ticks.
pub const REAL: Flavor = Flavor {
    name: "real",
    wasi: Wasi::P2,
    wasi03: Some(&REAL03),
    config: real_config,
    link: link::real,
    ticks: true,
};

/// As [`REAL`], but with wasmtime-wasi's own UDP sockets instead of
/// socklab's (`--udp-sockets wasmtime-wasi`), for comparison.
pub const REAL_WASMTIME_UDP: Flavor = Flavor {
    name: "real-wasmtime-udp",
    wasi: Wasi::P2,
    wasi03: Some(&REAL03),
    config: real_config,
    link: link::real_wasmtime_udp,
    ticks: true,
};

/// The flavor for WASI 0.2 guests on the host's own network with `udp`'s
/// UDP sockets.
pub fn real(udp: link::UdpSockets) -> &'static Flavor {
    match udp {
        link::UdpSockets::Socklab => &REAL,
        link::UdpSockets::WasmtimeWasi => &REAL_WASMTIME_UDP,
    }
}

/// WASI 0.3 guests on the host's own network: wasmtime-wasi's `p3` sockets
/// with the same grants (wasmtime-wasi 48 calls `socket_addr_check` for
/// them too), plus the WASI 0.2 interfaces Rust's std brings in.
pub const REAL03: Flavor = Flavor {
    name: "real-wasi03",
    wasi: Wasi::P3,
    wasi03: None,
    config: real03_config,
    link: link::real03,
    ticks: true,
};

/// WASI 0.2 guests on socklab's simulated network: its wasi:sockets and
/// clocks in simulated time, every choice from a seed, fuel for the CPU
/// limit, and the settings wasmtime documents for deterministic execution.
pub const SIMULATED: Flavor = Flavor {
    name: "simulated",
    wasi: Wasi::P2,
    wasi03: None,
    config: simulated_config,
    link: link::simulated,
    ticks: false,
};

fn simulated_config() -> Config {
    let mut config = socklab_sim::engine_config();
    // As for REAL: no concurrent call path for 0.2 guests.
    config.concurrency_support(false);
    config
}

fn real_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // The `component-model-async` feature turns concurrency support on by
    // default, and with it every `call_async` goes through
    // `run_concurrent`; 0.2 guests need none of it.
    config.concurrency_support(false);
    // Epoch ticks drive the CPU limit and make spinning guests yield.
    config.epoch_interruption(true);
    config
}

fn real03_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.wasm_component_model_async(true);
    config.concurrency_support(true);
    config.epoch_interruption(true);
    config
}

/// An engine for `flavor`, its ticker started.
pub fn engine(flavor: &Flavor) -> Result<Engine> {
    keep_freed_memory();
    let engine = Engine::new(&(flavor.config)()).map_err(anyhow::Error::from)?;
    if flavor.ticks {
        start_ticker(&engine);
    }
    Ok(engine)
}

/// Keep up to 64 MiB of freed heap in the process instead of handing it back
/// to the kernel at once (glibc's default trims above 128 KiB).
///
/// wasmtime-wasi allocates a zeroed 64 KiB buffer for every datagram and
/// every stream read; with trimming, each one came back as fresh pages, and
/// page faults with their zeroing took a tenth of a UDP echo server's time
/// (`perf`: `exc_page_fault`, `clear_page_erms` under
/// `IncomingDatagramStream::poll_recv_ready`). Kept, the same pages are
/// reused: `socklab bench` UDP rates went from 0.2-0.5x to 0.65-0.75x native.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of glibc's allocator; any value
    // is valid, and it may be called at any time from any thread.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

/// Advance `engine`'s epoch every [`TICK`] for as long as the engine lives.
fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("socklab-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })
        .expect("spawning the epoch thread");
}
