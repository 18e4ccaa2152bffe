//! `socklab run` against `wasmtime run`: the same `wasi:cli` command
//! component (`net-command ping`, a std::net ping-pong against a native echo
//! server) run as a whole process by each, compiled caches warm, timed from
//! spawn to exit.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::native;
use super::table::{Goal, Row, median};
use super::{Contender, Ctx};

const ROW: &str = "wasmtime-run";

/// `wasmtime` on PATH, if there is one.
fn wasmtime_on_path() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("wasmtime"))
        .find(|p| p.is_file())
}

/// Run `cmd` to its end within `limit`, checking it printed `expect`; how
/// long it took.
fn timed(mut cmd: Command, expect: &str, limit: Duration) -> Result<Duration> {
    let what = format!("{cmd:?}");
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    let elapsed = start.elapsed();
    let output = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !status.success() || !stdout.contains(expect) {
        bail!(
            "{what} failed ({status}): {}{}",
            stdout.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(elapsed)
}

/// The two command lines, ready to run `net-command ping ADDR N 64`.
struct Commands {
    socklab: PathBuf,
    wasmtime: PathBuf,
    component: PathBuf,
    /// Where each tool keeps its compiled cache for this bench.
    scratch: PathBuf,
}

impl Commands {
    fn command(&self, side: Contender, ping: &[String]) -> Command {
        match side {
            Contender::Guest => {
                let mut cmd = Command::new(&self.socklab);
                // socklab's cache lives under $XDG_CACHE_HOME: keep it here.
                cmd.env("XDG_CACHE_HOME", self.scratch.join("xdg"))
                    .arg("run")
                    .arg("--audit")
                    .arg(self.scratch.join("run-audit.jsonl"))
                    .arg("--allow")
                    .arg(format!("tcp-connect={}", ping[1]))
                    .arg(&self.component)
                    .arg("--")
                    .args(ping);
                cmd
            }
            Contender::Native => {
                let mut cmd = Command::new(&self.wasmtime);
                cmd.arg("run")
                    .arg("-S")
                    .arg("inherit-network=y")
                    .arg("-C")
                    .arg(format!(
                        "cache-config={}",
                        self.scratch.join("wasmtime-cache.toml").display()
                    ))
                    .arg(&self.component)
                    .args(ping);
                cmd
            }
        }
    }
}

fn wasmtime_version(wasmtime: &Path) -> String {
    Command::new(wasmtime)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The two commands to time, with `wasmtime`'s cache in the scratch
/// directory; or why the row cannot be measured.
fn commands(ctx: &Ctx) -> Result<Commands, &'static str> {
    let wasmtime = wasmtime_on_path().ok_or("no `wasmtime` on PATH")?;
    let socklab = ctx
        .socklab_exe
        .clone()
        .ok_or("the socklab binary is unknown")?;
    let (_, component) = ctx
        .runtime
        .bundled()
        .into_iter()
        .find(|(g, _)| g.name == "net-command")
        .ok_or("the bundled net-command was not found")?;
    let scratch = ctx.scratch.path().to_path_buf();
    let cache_dir = scratch.join("wasmtime-cache");
    std::fs::write(
        scratch.join("wasmtime-cache.toml"),
        format!(
            "[cache]\ndirectory = {:?}\n",
            cache_dir.display().to_string()
        ),
    )
    .map_err(|_| "the scratch directory cannot be written")?;
    Ok(Commands {
        socklab,
        wasmtime,
        component,
        scratch,
    })
}

/// The `wasmtime-run` row: `net-command ping` as a whole process under
/// `socklab run` and under `wasmtime run`.
pub async fn wasmtime_run(ctx: &Ctx) -> Result<Vec<Row>> {
    let count = ctx.scale.command_pings;
    let what = format!("net-command ping (std::net, 64 B x{count}) as a process, spawn to exit");
    let unit = "ms";
    let target = Goal::RatioBelow(1.0);
    let commands = match commands(ctx) {
        Ok(commands) => commands,
        Err(why) => return Ok(vec![Row::not_measured(ROW, what, unit, target, why)]),
    };
    let wasmtime = commands.wasmtime.clone();
    let server = native::tcp_echo().await?;
    let ping = vec![
        "ping".to_string(),
        server.addr.to_string(),
        count.to_string(),
        "64".into(),
    ];
    let limit = ctx.scale.limit;
    let expect = "round trips";
    // Its warm-up is the one run of each below, not the order's first round.
    let order: Vec<Contender> = ctx.order().skip(2).collect();
    let times = tokio::task::spawn_blocking(move || -> Result<[Vec<f64>; 2]> {
        // One run each first, so both compiled caches are warm.
        for side in [Contender::Native, Contender::Guest] {
            timed(commands.command(side, &ping), expect, limit)?;
        }
        let mut times = [Vec::new(), Vec::new()];
        for side in order {
            let t = timed(commands.command(side, &ping), expect, limit)?;
            times[(side == Contender::Guest) as usize].push(t.as_secs_f64() * 1e3);
        }
        Ok(times)
    })
    .await??;
    drop(server);
    Ok(vec![
        Row::compare(
            ROW,
            what,
            unit,
            median(&times[0]),
            median(&times[1]),
            target,
        )
        .baseline_kind("wasmtime run")
        .note(Some(format!("baseline: {}", wasmtime_version(&wasmtime)))),
    ])
}
