//! `socklab run`: an ordinary `wasi:cli` command component, the way
//! `wasmtime run` runs one, but under socklab's rules and limits.
//!
//! Nothing is granted by default: no network (until `--allow`), no
//! directories (until `--dir`), no environment (until `--env`). The
//! command's stdio is socklab's, and its exit code becomes socklab's.

use std::path::PathBuf;

use anyhow::Result;
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::{FsPerms, I32Exit};

use crate::bad_input;
use crate::grants::{Policy, UserRules};
use crate::lab::Lab;
use crate::limits::Limits;
use crate::report::EXIT_LIMIT;
use crate::state::GuestState;

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
    pub rules: UserRules,
    pub limits: Limits,
}

/// Run the command to its end; its exit code (or 3 if a limit stopped it).
pub async fn run_command(lab: &Lab, spec: CommandSpec) -> Result<i32> {
    let (path, _sha, component) = lab.compile_only(&spec.guest)?;
    let exports: Vec<String> = component
        .component_type()
        .exports(lab.engine())
        .map(|(name, _)| name.to_string())
        .collect();
    if !exports.iter().any(|e| e.starts_with("wasi:cli/run@0.2.")) {
        bad_input!(
            "{} is not a wasi:cli command: it exports {}; `socklab run` needs a component exporting wasi:cli/run@0.2.x (socklab roles run with serve, connect or exchange)",
            path.display(),
            if exports.is_empty() {
                "nothing".to_string()
            } else {
                exports.join(", ")
            }
        );
    }
    let pre = match lab.instantiate_pre(&component) {
        Ok(pre) => pre,
        Err(e) => bad_input!(
            "{} needs an import socklab does not provide: {}; socklab offers WASI 0.2 (cli, clocks, filesystem, io, random, sockets)",
            path.display(),
            first_line(&format!("{e:#}"))
        ),
    };
    let name = path
        .file_name()
        .map_or("command".into(), |n| n.to_string_lossy().into_owned());
    let label = format!("command {name}");
    let policy = Policy::new(label.clone(), Vec::new(), &spec.rules, lab.audit.clone());

    let mut args = vec![name];
    args.extend(spec.args);
    let mut preopen_error = None;
    let state = GuestState::command(label.clone(), policy.clone(), spec.limits, |b| {
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
    if let Some(e) = preopen_error {
        bad_input!("{e}");
    }
    let mut store = lab.store_for(state);
    let result = async {
        let command = CommandPre::new(pre)?.instantiate_async(&mut store).await?;
        command.wasi_cli_run().call_run(&mut store).await
    }
    .await;
    policy.flush_allowed();
    if policy.refused_total() > 0 {
        eprintln!(
            "socklab: {label}: refused {} network use(s); see --audit",
            policy.refused_total()
        );
    }
    let state = store.data_mut();
    if state.memory.tripped {
        state.meter.hit("memory-limit", true);
    }
    if let Some(hit) = state.meter.stopped_by() {
        eprintln!("socklab: {label} stopped by a limit: {hit}");
        return Ok(EXIT_LIMIT);
    }
    Ok(match result {
        Ok(Ok(())) => 0,
        Ok(Err(())) => 1,
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => exit.0,
            None => {
                eprintln!("socklab: {label} trapped: {}", first_line(&format!("{e}")));
                1
            }
        },
    })
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
