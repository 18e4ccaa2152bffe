//! `socklab run`: an ordinary `wasi:cli` command component, the way
//! `wasmtime run` runs one, but under socklab's rules and limits.
//!
//! Nothing is granted by default: no network (until `--allow`), no
//! directories (until `--dir`), no environment (until `--env`). The
//! command's stdio is socklab's (with `--json`, its output is kept for the
//! report instead), and its exit code becomes socklab's. A WASI 0.3 command
//! (exporting `wasi:cli/run@0.3.0`) runs on the runtime's 0.3 engine, its
//! `run` called inside `run_concurrent`, under the same rules and limits.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::p3::bindings::CommandPre as CommandPre03;
use wasmtime_wasi::{FsPerms, I32Exit};

use crate::bad_input;
use crate::grants::{Policy, Refusal, UserRules};
use crate::limits::{LimitHit, LimitKind, Limits, Usage};
use crate::report::{Payload, Verdict};
use crate::roles::Wasi;
use crate::runtime::call::{self, trap_cause};
use crate::runtime::state::{GuestState, Sandbox, Stdio};
use crate::runtime::{Compiled, Runtime, tasks};
use crate::version::{SOCKLAB_VERSION, WASMTIME_VERSION};

/// What a command runs with.
pub struct CommandSpec {
    /// A component file (or bundled name).
    pub guest: String,
    /// Its arguments, after its name.
    pub args: Vec<String>,
    /// `--env K=V`.
    pub env: Vec<(String, String)>,
    /// `--dir HOST::GUEST`: host directories it may open, and where.
    pub dirs: Vec<(PathBuf, String)>,
    /// `--allow`/`--deny`: nothing is granted without them.
    pub rules: UserRules,
    /// Its memory, CPU, socket and deadline limits.
    pub limits: Limits,
    /// Keep the command's stdout and stderr (64 KiB each) for the report
    /// instead of passing them through (`--json`, whose stdout is the one
    /// JSON document).
    pub capture_output: bool,
}

/// How a command's run ended, for the exit code, stderr and `--json`.
#[derive(Debug, Serialize)]
pub struct CommandRun {
    /// socklab's version.
    pub socklab: &'static str,
    /// The wasmtime version it ran on.
    pub wasmtime: &'static str,
    /// The file's name, as its `argv[0]`.
    pub name: String,
    /// The component file.
    pub path: String,
    /// The file's SHA-256, hex.
    pub sha256: String,
    /// Its arguments, after its name.
    pub args: Vec<String>,
    /// How it ended, for socklab's exit code: the command's own status, a
    /// limit, Ctrl-C, or a trap.
    #[serde(skip)]
    pub verdict: Verdict,
    /// The command's own exit status, when it exited (WASI 0.2: 0 or 1).
    pub status: Option<i32>,
    /// Why it did not end by itself (a trap, a limit, Ctrl-C), if so.
    pub error: Option<String>,
    /// Whether Ctrl-C or SIGTERM stopped it.
    pub interrupted: bool,
    /// The network uses refused (the first thousand).
    pub refusals: Vec<Refusal>,
    /// How many uses were refused in all.
    pub refused_total: u64,
    /// The limits it ran into.
    pub limits: Vec<LimitHit>,
    /// What it used, on the simulated network: fuel, simulated CPU time
    /// and peak memory (left out on the real network).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// What it wrote, when captured (`--json`).
    pub stdout: Option<Payload>,
    /// What it wrote on stderr, when captured.
    pub stderr: Option<Payload>,
}

impl CommandRun {
    /// The lines socklab says about the run on stderr (the command's own
    /// output goes where it went).
    pub fn notes(&self) -> Vec<String> {
        let label = format!("command {}", self.name);
        let mut notes = Vec::new();
        if self.refused_total > 0 {
            notes.push(format!(
                "socklab: {label}: refused {} network use(s); see --audit",
                self.refused_total
            ));
        }
        if let Some(e) = &self.error {
            notes.push(format!("socklab: {label} {e}"));
        }
        if let Some(usage) = &self.usage {
            notes.push(format!("socklab: {label} used {usage}"));
        }
        notes
    }
}

/// The limits a finished command ran into that only its end shows: its
/// memory limit, and its fuel (the CPU limit on the simulated network).
fn record_limits<T>(state: &mut GuestState, result: &Option<wasmtime::Result<T>>) {
    if state.memory.tripped {
        state.meter.hit(LimitKind::Memory, true);
    }
    if let Some(Err(trap)) = result
        && call::out_of_fuel(trap)
    {
        state.meter.hit(LimitKind::Cpu, true);
    }
}

/// Run the command to its end, or until `interrupt` resolves.
pub async fn run_command(
    runtime: &Runtime,
    spec: CommandSpec,
    interrupt: impl Future<Output = ()>,
) -> Result<CommandRun> {
    let compiled = runtime.compile(&spec.guest)?;
    let pre = command_pre(runtime, &compiled)?;
    let name = compiled
        .path
        .file_name()
        .map_or("command".into(), |n| n.to_string_lossy().into_owned());
    let label = format!("command {name}");
    let policy = Policy::new(
        label.clone(),
        Vec::new(),
        &spec.rules,
        runtime.audit.clone(),
    );
    let sandbox = Sandbox {
        label,
        transport: None,
        policy: policy.clone(),
        limits: spec.limits.clone(),
        verbose: runtime.verbose,
        node: tasks::node("command"),
    };
    let state = command_state(sandbox, &name, &spec)?;
    let mut store = call::store(compiled.component.engine(), state);
    let cpu = store.data().cpu.clone();
    let call = call::metered(cpu, async {
        match &pre {
            Pre::P2(pre) => {
                let command = pre.instantiate_async(&mut store).await?;
                command.wasi_cli_run().call_run(&mut store).await
            }
            Pre::P3(pre) => {
                let command = pre.instantiate_async(&mut store).await?;
                store
                    .run_concurrent(async |a| command.wasi_cli_run().call_run(a).await)
                    .await?
            }
        }
    });
    let result = tokio::select! {
        biased;
        () = interrupt => None,
        result = call => Some(result),
    };
    policy.flush_allowed();
    let fuel_left = store.get_fuel().unwrap_or(0);
    let state = store.data_mut();
    let usage = state.usage(fuel_left);
    record_limits(state, &result);
    let (verdict, error) = ending(runtime.verbose, result, state.meter.stopped_by());
    let (stdout, stderr) = state.output();
    let captured = spec.capture_output;
    Ok(CommandRun {
        socklab: SOCKLAB_VERSION,
        wasmtime: WASMTIME_VERSION,
        name,
        path: compiled.path.display().to_string(),
        sha256: compiled.sha256,
        args: spec.args,
        status: match verdict {
            Verdict::Exited(status) => Some(status),
            _ => None,
        },
        verdict,
        interrupted: result_interrupted(verdict),
        error,
        refusals: policy.refusals(),
        refused_total: policy.refused_total(),
        limits: state.meter.hits.clone(),
        usage,
        stdout: captured.then(|| Payload::of(stdout.as_bytes())),
        stderr: captured.then(|| Payload::of(stderr.as_bytes())),
    })
}

fn result_interrupted(verdict: Verdict) -> bool {
    verdict == Verdict::Interrupted
}

/// The command's store data: its sandbox, its args (its name first), env
/// and directories, its output kept when asked.
fn command_state(sandbox: Sandbox, name: &str, spec: &CommandSpec) -> Result<GuestState> {
    let mut args = vec![name.to_string()];
    args.extend(spec.args.iter().cloned());
    let stdio = match spec.capture_output {
        true => Stdio::Captured,
        false => Stdio::Inherited,
    };
    let mut preopen_error = None;
    let state = GuestState::new(sandbox, None, stdio, |b| {
        b.args(&args).envs(&spec.env);
        for (host, guest) in &spec.dirs {
            if let Err(e) = b.preopened_dir(host, guest, FsPerms::ReadWrite) {
                preopen_error = Some(format!(
                    "cannot open --dir {}::{guest}: {e:#}",
                    host.display()
                ));
            }
        }
    });
    match preopen_error {
        Some(e) => bad_input!("{e}"),
        None => Ok(state),
    }
}

/// A command pre-instantiated on the engine of its WASI version.
enum Pre {
    P2(CommandPre<GuestState>),
    P3(CommandPre03<GuestState>),
}

/// The command's pre-instantiation, once it is known to be a command whose
/// imports socklab offers.
fn command_pre(runtime: &Runtime, compiled: &Compiled) -> Result<Pre> {
    let path = compiled.path.display();
    let engine = compiled.component.engine();
    let exports = crate::runtime::load::export_names(engine, &compiled.component);
    let run = match compiled.wasi {
        Wasi::P2 => "wasi:cli/run@0.2.",
        Wasi::P3 => "wasi:cli/run@0.3.",
    };
    if !exports.iter().any(|e| e.starts_with(run)) {
        bad_input!(
            "{path} is not a wasi:cli command: it exports {}; `socklab run` needs a component exporting wasi:cli/run@0.2.x or wasi:cli/run@0.3.0 (socklab roles run with serve, connect or exchange)",
            if exports.is_empty() {
                "nothing".to_string()
            } else {
                exports.join(", ")
            }
        );
    }
    let pre = match runtime.instantiate_pre(&compiled.component, compiled.wasi) {
        Ok(pre) => pre,
        Err(e) => bad_input!(
            "{path} needs an import socklab does not provide: {}; socklab offers WASI 0.2 (cli, clocks, filesystem, io, random, sockets) and WASI 0.3 (cli, clocks, filesystem, random, sockets)",
            first_line(&format!("{e:#}"))
        ),
    };
    Ok(match compiled.wasi {
        Wasi::P2 => Pre::P2(CommandPre::new(pre).map_err(anyhow::Error::from)?),
        Wasi::P3 => Pre::P3(CommandPre03::new(pre).map_err(anyhow::Error::from)?),
    })
}

/// How a command's call ended (`None`: interrupted), with the words for
/// anything but an exit.
fn ending(
    verbose: bool,
    result: Option<wasmtime::Result<Result<(), ()>>>,
    stopped: Option<&LimitHit>,
) -> (Verdict, Option<String>) {
    match (result, stopped) {
        (None, _) => (Verdict::Interrupted, Some("interrupted".to_string())),
        (_, Some(hit)) => (Verdict::Limit, Some(format!("stopped by a limit: {hit}"))),
        (Some(Ok(Ok(()))), None) => (Verdict::Exited(0), None),
        (Some(Ok(Err(()))), None) => (Verdict::Exited(1), None),
        (Some(Err(e)), None) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => (Verdict::Exited(exit.0), None),
            None if verbose => (Verdict::Failed, Some(format!("trapped: {e:?}"))),
            None => (
                Verdict::Failed,
                Some(format!("trapped: {}", trap_cause(&e))),
            ),
        },
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// Parse `HOST::GUEST`.
pub fn parse_dir(text: &str) -> Result<(PathBuf, String), String> {
    match text.split_once("::") {
        Some((host, guest)) if !host.is_empty() && !guest.is_empty() => {
            Ok((PathBuf::from(host), guest.to_string()))
        }
        _ => Err(format!("`{text}` is not HOST::GUEST (e.g. ./data::/data)")),
    }
}
