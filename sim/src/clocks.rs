//! `wasi:clocks/monotonic-clock` and `wasi:clocks/wall-clock` on simulated
//! time: a guest's clocks read its world's simulated microseconds, and its
//! clock pollables become ready when simulated time reaches them, in the
//! same `wasi:io/poll` lists as its socket pollables.
//!
//! - monotonic: nanoseconds since the world started (always a whole number
//!   of microseconds); resolution 1 µs. A deadline between two microseconds
//!   is rounded up.
//! - wall: [`WALL_EPOCH`] plus the simulated time; resolution 1 µs.

use wasmtime::component::{Linker, Resource};
use wasmtime_wasi_io::poll::{DynPollable, Pollable, subscribe};

use crate::bindings::clocks::{monotonic_clock, wall_clock};
use crate::exec::Handle;
use crate::sockets::{SimCtx, SimView, Sockets, view};
use crate::time::Sleep;

/// What the wall clock reads at simulated time 0: 2025-01-01T00:00:00Z, in
/// seconds since the Unix epoch.
pub const WALL_EPOCH: u64 = 1_735_689_600;

/// Links both clocks of the simulated world the guest's node belongs to.
pub fn add_to_linker<T: SimView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    let get = view::<T>;
    monotonic_clock::add_to_linker::<T, Sockets<T>>(linker, get)?;
    wall_clock::add_to_linker::<T, Sockets<T>>(linker, get)?;
    Ok(())
}

/// A clock pollable: ready from simulated time `due` (µs) on.
struct Deadline {
    handle: Handle,
    due: u64,
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for Deadline {
    async fn ready(&mut self) {
        Sleep::until(self.handle.clone(), self.due).await
    }
}

impl<T: SimView> SimCtx<'_, T> {
    fn handle(&self) -> Handle {
        self.0.node().handle().clone()
    }

    fn deadline(&mut self, due: u64) -> wasmtime::Result<Resource<DynPollable>> {
        let deadline = Deadline {
            handle: self.handle(),
            due,
        };
        let resource = self.0.table().push(deadline)?;
        subscribe(self.0.table(), resource)
    }
}

impl<T: SimView> monotonic_clock::Host for SimCtx<'_, T> {
    fn now(&mut self) -> wasmtime::Result<monotonic_clock::Instant> {
        Ok(self.handle().now_micros().saturating_mul(1000))
    }

    fn resolution(&mut self) -> wasmtime::Result<monotonic_clock::Duration> {
        Ok(1000)
    }

    fn subscribe_instant(
        &mut self,
        when: monotonic_clock::Instant,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        self.deadline(when.div_ceil(1000))
    }

    fn subscribe_duration(
        &mut self,
        when: monotonic_clock::Duration,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        let now = self.handle().now_micros();
        self.deadline(now.saturating_add(when.div_ceil(1000)))
    }
}

impl<T: SimView> wall_clock::Host for SimCtx<'_, T> {
    fn now(&mut self) -> wasmtime::Result<wall_clock::Datetime> {
        let micros = self.handle().now_micros();
        Ok(wall_clock::Datetime {
            seconds: WALL_EPOCH + micros / 1_000_000,
            nanoseconds: (micros % 1_000_000) as u32 * 1000,
        })
    }

    fn resolution(&mut self) -> wasmtime::Result<wall_clock::Datetime> {
        Ok(wall_clock::Datetime {
            seconds: 0,
            nanoseconds: 1000,
        })
    }
}
