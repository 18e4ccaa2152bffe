//! Where a command's tasks run and which clock they read: tokio and the
//! real clock on the real network, the simulation's executor and simulated
//! time on the simulated one. Code above the runtime (an exchange, an
//! experiment's rounds, a call's deadline) spawns, sleeps and times out
//! through these functions, so the same code serves both networks.
//!
//! The choice is made by where the code runs: inside
//! `socklab_sim::Sim::block_on` it is the simulation's, anywhere else
//! tokio's.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use socklab_sim::time as sim_time;

/// A spawned task: awaiting it gives its output, or why it did not finish.
pub enum Task<T> {
    /// On tokio.
    Tokio(tokio::task::JoinHandle<T>),
    /// On the simulation's executor.
    Sim(socklab_sim::JoinHandle<T>),
}

impl<T> Task<T> {
    /// Stop the task at its next await.
    pub fn abort(&self) {
        match self {
            Task::Tokio(t) => t.abort(),
            Task::Sim(t) => t.abort(),
        }
    }
}

impl<T> Future for Task<T> {
    /// The task's output, or why it ended without one (it panicked or was
    /// aborted).
    type Output = Result<T, String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Task::Tokio(t) => Pin::new(t).poll(cx).map(|r| r.map_err(|e| e.to_string())),
            Task::Sim(t) => Pin::new(t).poll(cx).map(|r| r.map_err(|e| e.to_string())),
        }
    }
}

/// Whether this code runs on the simulated network.
pub fn simulated() -> bool {
    socklab_sim::exec::try_handle().is_some()
}

/// Run `fut` as a task of its own.
pub fn spawn<F>(fut: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if simulated() {
        Task::Sim(socklab_sim::spawn(fut))
    } else {
        Task::Tokio(tokio::spawn(fut))
    }
}

/// Wait `d`.
pub async fn sleep(d: Duration) {
    if simulated() {
        sim_time::sleep(d).await
    } else {
        tokio::time::sleep(d).await
    }
}

/// Run `fut` for at most `d`: `None` if it did not finish by then.
pub async fn timeout<F: Future>(d: Duration, fut: F) -> Option<F::Output> {
    if simulated() {
        sim_time::timeout(d, fut).await.ok()
    } else {
        tokio::time::timeout(d, fut).await.ok()
    }
}

/// A node called `name` on the simulated network this code runs on
/// (`None` on the real network).
pub fn node(name: &str) -> Option<socklab_sim::Node> {
    socklab_sim::exec::try_handle().map(|h| h.add_node(name))
}

/// How long since `start` (an `Instant` taken when the run began): real
/// time on the real network; on the simulated one, simulated time since
/// the simulation began (which a run's start coincides with).
pub fn since(start: std::time::Instant) -> Duration {
    match socklab_sim::exec::try_handle() {
        Some(sim) => Duration::from_micros(sim.now_micros()),
        None => start.elapsed(),
    }
}
