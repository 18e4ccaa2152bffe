//! Simulated time for code running inside [`Sim::block_on`](crate::Sim::block_on):
//! [`now_micros`], [`sleep`], [`timeout`], and [`Sleep`], the future clock
//! pollables are made of.
//!
//! Time is an integer number of microseconds since the simulation started.
//! It moves only when no task is runnable: it then jumps to the earliest
//! timer. A [`Sleep`] that is dropped takes its timer with it, so an
//! abandoned timeout never makes time jump.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::core::{Timer, TimerKey};
use crate::exec::{Handle, handle};

/// Simulated time, in microseconds since the simulation started.
///
/// # Panics
/// Outside [`Sim::block_on`](crate::Sim::block_on).
pub fn now_micros() -> u64 {
    handle().now_micros()
}

/// Whole microseconds of `d`, saturating at `u64::MAX`.
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Waits `d` of simulated time (rounded down to whole microseconds),
/// counted from the first poll, so that a sleep may be made outside the
/// simulation and awaited inside it.
///
/// # Panics
/// When polled outside [`Sim::block_on`](crate::Sim::block_on).
pub async fn sleep(d: Duration) {
    let handle = handle();
    let due = handle.now_micros().saturating_add(micros(d));
    Sleep::until(handle, due).await
}

/// Runs `fut` for at most `d` of simulated time. `fut` is polled before the
/// timer, so a future that finishes exactly at the deadline wins.
///
/// # Panics
/// Outside [`Sim::block_on`](crate::Sim::block_on).
pub async fn timeout<F: Future>(d: Duration, fut: F) -> Result<F::Output, Elapsed> {
    let mut fut = std::pin::pin!(fut);
    let mut timer = std::pin::pin!(sleep(d));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(out));
        }
        timer.as_mut().poll(cx).map(|()| Err(Elapsed))
    })
    .await
}

/// [`timeout`]'s deadline passed before its future finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed;

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the simulated deadline passed")
    }
}

impl std::error::Error for Elapsed {}

/// A future that finishes when simulated time reaches its due time. It
/// needs no current simulation (it holds its [`Handle`]), so it can live in
/// a guest's resource table.
pub struct Sleep {
    handle: Handle,
    due: u64,
    /// The timer set on the first pending poll.
    key: Option<TimerKey>,
}

impl Sleep {
    /// A future ready once `handle`'s simulated time is at least `due` µs.
    pub fn until(handle: Handle, due: u64) -> Sleep {
        Sleep {
            handle,
            due,
            key: None,
        }
    }

    /// Its due time, in simulated microseconds.
    pub fn due(&self) -> u64 {
        self.due
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let shared = self.handle.shared.clone();
        let mut core = shared.core();
        if core.now >= self.due {
            if let Some(key) = self.key.take() {
                core.cancel_timer(key);
            }
            return Poll::Ready(());
        }
        let rewoken = self.key.is_some_and(|key| core.rewake(key, cx.waker()));
        if !rewoken {
            let due = self.due;
            self.key = Some(core.add_timer(due, Timer::Wake(cx.waker().clone())));
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.handle.shared.core().cancel_timer(key);
        }
    }
}
