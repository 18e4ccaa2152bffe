//! Ctrl-C and SIGTERM, for every command.
//!
//! The signals are caught on a thread of their own from the first moment of
//! the process, so a busy runtime (a guest compiling, a blocking read) can
//! never delay them. Until a command has something to report, a signal ends
//! the process at once with exit code 130. Once it has ([`Interrupt::graceful`]),
//! the first signal asks it to stop and report what finished; a second
//! Ctrl-C, or a command still running [`GRACE`] later, ends the process.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::watch;

use super::exit::{INTERRUPTED as EXIT_INTERRUPTED, LIMIT as EXIT_LIMIT};
use crate::say;

/// How long a command may take to stop and report after the first signal
/// before the process is ended anyway.
pub const GRACE: Duration = Duration::from_secs(3);

/// The process's interrupt: cheap to clone, one per process.
#[derive(Clone)]
pub struct Interrupt {
    shared: Arc<Shared>,
}

struct Shared {
    /// Becomes `true` at the first signal (or at `--wall-limit`), once
    /// graceful.
    requested: watch::Sender<bool>,
    /// Whether `--wall-limit` passed: the command then exits with
    /// [`EXIT_LIMIT`], not as interrupted.
    wall_limit_hit: AtomicBool,
    /// Whether a signal asks the command to stop (true) or ends the
    /// process (false).
    graceful: AtomicBool,
}

impl Interrupt {
    /// Catch SIGINT and SIGTERM from now on.
    pub fn install() -> Result<Interrupt> {
        let shared = Arc::new(Shared {
            requested: watch::channel(false).0,
            graceful: AtomicBool::new(false),
            wall_limit_hit: AtomicBool::new(false),
        });
        let watcher = shared.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("socklab-signals".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                let runtime = match runtime {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(anyhow::Error::from(e)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    use tokio::signal::unix::{SignalKind, signal};
                    let caught = signal(SignalKind::interrupt())
                        .and_then(|i| Ok((i, signal(SignalKind::terminate())?)));
                    match caught {
                        Ok(signals) => {
                            let _ = ready_tx.send(Ok(()));
                            watch_signals(watcher, signals).await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.into()));
                        }
                    }
                });
            })
            .context("starting the signal thread")?;
        // The handlers are in place once the thread says so: no signal sent
        // after this returns is missed.
        ready_rx
            .recv()
            .context("the signal thread ended early")?
            .context("catching Ctrl-C and SIGTERM")?;
        Ok(Interrupt { shared })
    }

    /// From now on the first signal asks the command to stop and report,
    /// instead of ending the process.
    pub fn graceful(&self) {
        self.shared.graceful.store(true, Ordering::SeqCst);
    }

    /// Resolves once a signal has asked the command to stop.
    pub fn requested(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.shared.requested.subscribe();
        async move {
            // The sender lives as long as the process: an error cannot
            // happen, and would mean nobody can ask any more.
            let _ = rx.wait_for(|asked| *asked).await;
        }
    }

    /// Whether a signal has asked the command to stop.
    pub fn is_requested(&self) -> bool {
        *self.shared.requested.borrow()
    }

    /// `--wall-limit`: once `limit` of real time has passed, ask the
    /// command to stop and report, as a signal does (or end the process
    /// when it has nothing to report yet); [`EXIT_LIMIT`] either way. It
    /// runs on a thread of its own, so no busy guest or simulation can
    /// hold it up.
    pub fn arm_wall_limit(&self, limit: Duration) -> Result<()> {
        let shared = self.shared.clone();
        std::thread::Builder::new()
            .name("socklab-wall-limit".into())
            .spawn(move || {
                std::thread::sleep(limit);
                shared.wall_limit_hit.store(true, Ordering::SeqCst);
                let shown = crate::limits::show_duration(limit);
                if !shared.graceful.load(Ordering::SeqCst) {
                    say!("error: --wall-limit {shown} reached before any guest ran; raise it");
                    std::process::exit(EXIT_LIMIT);
                }
                say!(
                    "error: --wall-limit {shown} reached: the command ran for {shown} of real time; stopping the guests and reporting what finished (raise --wall-limit, or lower --cpu-limit or --deadline)"
                );
                shared.requested.send_replace(true);
                std::thread::sleep(GRACE);
                say!("forced stop: still running {} s after --wall-limit", GRACE.as_secs());
                std::process::exit(EXIT_LIMIT);
            })
            .context("starting the --wall-limit watchdog")?;
        Ok(())
    }

    /// Whether `--wall-limit` has passed.
    pub fn wall_limit_hit(&self) -> bool {
        self.shared.wall_limit_hit.load(Ordering::SeqCst)
    }
}

type Signals = (tokio::signal::unix::Signal, tokio::signal::unix::Signal);

async fn watch_signals(shared: Arc<Shared>, (mut interrupt, mut terminate): Signals) {
    tokio::select! {
        biased;
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    if !shared.graceful.load(Ordering::SeqCst) {
        say!("interrupted");
        std::process::exit(EXIT_INTERRUPTED);
    }
    say!("stopping (press Ctrl-C again to force)");
    shared.requested.send_replace(true);
    tokio::select! {
        biased;
        _ = interrupt.recv() => say!("forced stop"),
        _ = terminate.recv() => say!("forced stop"),
        () = tokio::time::sleep(GRACE) => {
            say!("forced stop: still running {} s after the interrupt", GRACE.as_secs());
        }
    }
    std::process::exit(EXIT_INTERRUPTED);
}
