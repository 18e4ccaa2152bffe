//! Calling one guest: a fresh `Store` with its limits in force (the only
//! place one is made), instantiation, the call into its role's export, and
//! what it left behind (its result, its output, the limits it ran into).

use std::net::SocketAddr;

use tokio::sync::{oneshot, watch};
use wasmtime::{Store, UpdateDeadline};

use super::load::Guest;
use super::state::{GuestState, Sandbox, Stdio};
use super::{Runtime, call03};
use crate::limits::{LimitHit, LimitKind, Usage};
use crate::roles::bindings::exports::socklab::lab::{
    tcp_client_role, tcp_server_role, udp_client_role, udp_server_role,
};
use crate::roles::bindings::socklab::lab::types::{
    ClientConfig, ClientReport, ServerConfig, ServerReport,
};
use crate::roles::{Transport, Wasi};

/// How a guest's call ended, besides returning normally.
#[derive(Debug, Clone)]
pub enum Failure {
    /// The guest returned an error (`result::err`), in its own words.
    Returned(String),
    /// The guest trapped or could not be instantiated; the text carries its
    /// panic message when it printed one.
    Trapped(String),
    /// A limit stopped the guest.
    Limit(LimitHit),
    /// The host cancelled a server that never polls its stop signal (a
    /// `std::net` server blocked in `accept`): the expected way to stop it,
    /// not an error, but it leaves no report.
    Cancelled,
    /// Ctrl-C or SIGTERM stopped the guest before it returned.
    Interrupted,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Returned(e) => write!(f, "{e}"),
            Failure::Trapped(e) => write!(f, "trapped: {e}"),
            Failure::Limit(hit) => write!(f, "stopped by a limit: {hit}"),
            Failure::Cancelled => write!(
                f,
                "cancelled: it never polls its stop signal, so it left no report"
            ),
            Failure::Interrupted => write!(f, "interrupted before it reported"),
        }
    }
}

/// What one guest run produced.
pub struct Outcome<T> {
    /// Its report, or how it failed.
    pub result: Result<T, Failure>,
    /// The guest's stderr, as text (lossy), for showing when it failed.
    pub stderr: String,
    /// The guest's stdout, as text (lossy): a guest's prints are shown
    /// under it in the transcript.
    pub stdout: String,
    /// Every limit the guest ran into.
    pub limits: Vec<LimitHit>,
    /// What it used, on the simulated network: fuel, simulated CPU time,
    /// peak memory.
    pub usage: Option<Usage>,
}

impl<T> Outcome<T> {
    /// An outcome for a guest that never got to run to its end.
    pub fn failed(failure: Failure) -> Outcome<T> {
        Outcome {
            result: Err(failure),
            stderr: String::new(),
            stdout: String::new(),
            limits: Vec::new(),
            usage: None,
        }
    }
}

/// The wires between the host and a running server.
pub struct ServerWires {
    /// Becomes `true` to ask the server to stop.
    pub stop: watch::Receiver<bool>,
    /// Receives the address the server listens on.
    pub listening: oneshot::Sender<SocketAddr>,
}

/// A store on `engine` (the engine of the guest's WASI version and
/// network) for `state` with the guest's limits in force: the memory
/// limiter and, on the real network, the CPU meter's call hook and the
/// epoch callback that yields and checks the CPU budget (on the simulated
/// network, fuel, and its node's simulated CPU as the call hook: see
/// `socklab_sim::cpu`). Every guest's store is made here.
pub fn store(engine: &wasmtime::Engine, mut state: GuestState) -> Store<GuestState> {
    // On the simulated network the CPU limit is fuel, the same on every
    // machine, and what the guest burns is charged to its node's CPU.
    let limit = state.meter.limits.cpu;
    let cpu = state
        .simulation()
        .map(|sim| socklab_sim::Cpu::new(sim.clone(), limit));
    state.cpu = cpu.clone();
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.memory);
    if let Some(cpu) = cpu {
        // The guest yields to the executor as it burns its fuel.
        store
            .set_fuel(cpu.fuel())
            .and_then(|()| socklab_sim::yield_on_fuel(&mut store))
            .expect("the simulated flavor's engine consumes fuel");
        store.call_hook_async(cpu.hook());
        return store;
    }
    store.call_hook(|mut ctx, hook| {
        ctx.data_mut().meter.on_call_hook(hook);
        Ok(())
    });
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut ctx| {
        if ctx.data_mut().meter.on_tick() {
            let limit = ctx.data().meter.limits.cpu;
            return Err(wasmtime::format_err!("cpu limit of {limit:?} reached"));
        }
        Ok(UpdateDeadline::Yield(1))
    });
    store
}

/// A role guest's store, on its own engine: `sandbox`, its output captured.
fn role_store(guest: &Guest, sandbox: Sandbox, wires: Option<ServerWires>) -> Store<GuestState> {
    store(
        guest.pre.component().engine(),
        GuestState::new(sandbox, wires, Stdio::Captured, |_| {}),
    )
}

/// Instantiate `guest` in a store of `sandbox` and go no further (how long
/// that takes is a bench row).
pub async fn instantiate(
    _runtime: &Runtime,
    guest: &Guest,
    sandbox: Sandbox,
) -> wasmtime::Result<()> {
    let mut store = role_store(guest, sandbox, None);
    guest.pre.instantiate_async(&mut store).await.map(drop)
}

/// Run a server guest until it returns: it reaches `max_sessions` or the
/// host fires `wires.stop`. (The runtime that loaded `guest` is named for
/// the callers' sake; the guest carries its engine, which makes its store.)
pub async fn serve(
    _runtime: &Runtime,
    guest: &Guest,
    config: ServerConfig,
    sandbox: Sandbox,
    wires: ServerWires,
) -> Outcome<ServerReport> {
    let deadline = sandbox.limits.deadline;
    let mut store = role_store(guest, sandbox, Some(wires));
    let cpu = store.data().cpu.clone();
    let result = within(deadline, cpu, async {
        if guest.wasi == Wasi::P3 {
            return call03::serve(&mut store, guest, &config).await;
        }
        let instance = guest.pre.instantiate_async(&mut store).await?;
        match guest.role.transport {
            Transport::Tcp => {
                let export =
                    tcp_server_role::GuestIndices::new(&guest.pre)?.load(&mut store, &instance)?;
                export.call_serve(&mut store, &config).await
            }
            Transport::Udp => {
                let export =
                    udp_server_role::GuestIndices::new(&guest.pre)?.load(&mut store, &instance)?;
                export.call_serve(&mut store, &config).await
            }
        }
    })
    .await;
    finish(store, result)
}

/// Run a client guest's script to the end.
pub async fn run_client(
    _runtime: &Runtime,
    guest: &Guest,
    config: &ClientConfig,
    sandbox: Sandbox,
) -> Outcome<ClientReport> {
    // A client has no stop signal; its reply timeouts bound it.
    let deadline = sandbox.limits.deadline;
    let mut store = role_store(guest, sandbox, None);
    let cpu = store.data().cpu.clone();
    let result = within(deadline, cpu, async {
        if guest.wasi == Wasi::P3 {
            return call03::run_client(&mut store, guest, config).await;
        }
        let instance = guest.pre.instantiate_async(&mut store).await?;
        match guest.role.transport {
            Transport::Tcp => {
                let export =
                    tcp_client_role::GuestIndices::new(&guest.pre)?.load(&mut store, &instance)?;
                export.call_run(&mut store, config).await
            }
            Transport::Udp => {
                let export =
                    udp_client_role::GuestIndices::new(&guest.pre)?.load(&mut store, &instance)?;
                export.call_run(&mut store, config).await
            }
        }
    })
    .await;
    finish(store, result)
}

/// The guest's call, cut off at `deadline` if there is one (`None` then):
/// wall-clock time on the real network, simulated time on the simulated
/// one. A spinning guest still yields on every epoch tick, so the
/// timer gets its turn; on the simulated network its fuel is charged to
/// `cpu`, its node's CPU ([`metered`]).
///
/// The call runs outside tokio's cooperative budget: one `wasi:io/poll`
/// over a thousand connections polls a thousand readiness futures in one
/// go, and under the budget (128 per turn) only the first ready ones in the
/// list would ever be reported, starving the rest for seconds. The epoch
/// tick's yield is what keeps a busy guest from holding its thread.
async fn within<T>(
    deadline: Option<std::time::Duration>,
    cpu: Option<socklab_sim::Cpu>,
    call: impl Future<Output = wasmtime::Result<Result<T, String>>>,
) -> Option<wasmtime::Result<Result<T, String>>> {
    let call = metered(cpu, tokio::task::unconstrained(call));
    match deadline {
        Some(limit) => super::tasks::timeout(limit, call).await,
        None => Some(call.await),
    }
}

/// `call`, charged to its node's simulated CPU when it runs on one: it
/// waits at every host call and fuel yield until the node's CPU has done
/// what it was charged, and finishes only once it has.
pub async fn metered<F: Future>(cpu: Option<socklab_sim::Cpu>, call: F) -> F::Output {
    match cpu {
        Some(cpu) => cpu.metered(call).await,
        None => call.await,
    }
}

/// Fold a call's layers of failure (deadline, limit, trap, guest error) into
/// one, and collect what the guest left on stderr.
fn finish<T>(
    mut store: Store<GuestState>,
    result: Option<wasmtime::Result<Result<T, String>>>,
) -> Outcome<T> {
    let fuel_left = store.get_fuel().unwrap_or(0);
    let state = store.data_mut();
    let usage = state.usage(fuel_left);
    if result.is_none() {
        state.meter.hit(LimitKind::Deadline, true);
    }
    if state.memory.tripped {
        state.meter.hit(LimitKind::Memory, true);
    }
    if let Some(Err(trap)) = &result
        && out_of_fuel(trap)
    {
        state.meter.hit(LimitKind::Cpu, true);
    }
    let (stdout, stderr) = state.output();
    let limits = state.meter.hits.clone();
    let result = match (result, state.meter.stopped_by()) {
        (_, Some(hit)) => Err(Failure::Limit(hit.clone())),
        (None, None) => unreachable!("a missed deadline is recorded as a hit"),
        (Some(Ok(Ok(value))), None) => Ok(value),
        (Some(Ok(Err(message))), None) => Err(Failure::Returned(message)),
        (Some(Err(trap)), None) => {
            // The trap's cause (`wasm unreachable instruction executed`, or a
            // host error such as a resource dropped out of order), not its
            // multi-line wasm backtrace, plus what the guest said.
            let kind = trap_cause(&trap);
            if state.verbose() {
                crate::say!("[{}] trapped: {trap:?}", state.label());
            }
            let words = last_words(&stderr);
            Err(Failure::Trapped(if words.is_empty() {
                kind
            } else {
                format!("{words} ({kind})")
            }))
        }
    };
    Outcome {
        result,
        stderr,
        stdout,
        limits,
        usage,
    }
}

/// Whether `trap` is the guest running out of fuel: its CPU limit on the
/// simulated network.
pub fn out_of_fuel(trap: &wasmtime::Error) -> bool {
    trap.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::OutOfFuel)
}

/// Why a guest's call trapped, on one line: every message of the error's
/// chain but the wasm backtrace (`-v` shows that), outermost first.
pub fn trap_cause(trap: &wasmtime::Error) -> String {
    let causes: Vec<String> = trap
        .chain()
        .map(|e| e.to_string())
        .filter(|m| !m.starts_with("error while executing at wasm backtrace"))
        .map(|m| m.replace('\n', " "))
        .collect();
    if causes.is_empty() {
        trap.root_cause().to_string()
    } else {
        causes.join(": ")
    }
}

/// What the guest said when it gave up, from its `stderr`: the message of a
/// Rust panic (`panicked at src/lib.rs:12:9: <message>`), or else its last
/// line.
fn last_words(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if let Some(at) = lines.iter().rposition(|l| l.contains("panicked at ")) {
        let place = &lines[at][lines[at].find("panicked at ").unwrap_or(0)..];
        let message: Vec<&str> = lines[at + 1..]
            .iter()
            .take_while(|l| !l.starts_with("note:"))
            .copied()
            .collect();
        return format!("{} {}", place, message.join(" "))
            .trim()
            .to_string();
    }
    lines.last().map_or(String::new(), |l| l.to_string())
}
