//! Simulated CPU: the time a guest spends in wasm, charged to its node's
//! simulated clock.
//!
//! A guest's work is counted in fuel (one unit per wasm instruction,
//! roughly), which repeats exactly on every machine. [`Cpu`] turns it into
//! simulated time at [`NANOS_PER_FUEL`], plus [`HOST_CALL_NANOS`] for every
//! call the guest makes into the host, and keeps the node's CPU busy for
//! that long: the node resumes only once simulated time has reached its CPU
//! time. So a guest that computes for a simulated second lets every other
//! node's timers fire in that second, in order, and a spinning guest moves
//! time forward instead of freezing it.
//!
//! Where it is charged:
//! - at every host call: the fuel burnt since the last charge, read from
//!   the store, plus the call's fixed cost ([`CpuHook`], the store's async
//!   call hook, which waits there until the CPU is free);
//! - at every fuel yield (the guest ran [`FUEL_YIELD_INTERVAL`] units
//!   without calling the host): one interval ([`Cpu::metered`], the future
//!   that wraps the guest's call, which waits there);
//! - when the guest returns: what is left, and the call's future finishes
//!   only once the CPU is free.
//!
//! Fuel yields come every [`FUEL_YIELD_INTERVAL`] units of fuel counted
//! from the store's start (host calls do not refill the store's active
//! fuel), so the `k`th yield happens at `k` intervals, give or take the few
//! instructions wasm runs past the end of one; the next host call's exact
//! reading corrects that.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use wasmtime::{CallHook, StoreContextMut};

use crate::engine::FUEL_YIELD_INTERVAL;
use crate::exec::Handle;
use crate::time::Sleep;

/// Simulated nanoseconds one unit of fuel costs. Measured: `hostile-spin`'s
/// arithmetic loop under wasmtime 48, with fuel metering on, burns 2 x 10^9
/// units in 0.83 s of real time on the 2-vCPU VMs socklab is developed on
/// (about 2.4 units per ns). 1 ns a unit is the round, conservative figure:
/// a guest is never faster in the simulation than it ran here. The same
/// figure is the `--cpu-limit` rate ([`Cpu::fuel`]).
pub const NANOS_PER_FUEL: u64 = 1;

/// Simulated nanoseconds a call into the host costs on top of its fuel:
/// wasmtime's switch into the host (tens of ns) and the work a kernel does
/// for a socket call (a loopback `sendto` or `recvfrom` is roughly
/// 0.3-1 us). A chosen figure, not a measured one.
pub const HOST_CALL_NANOS: u64 = 500;

/// One node's CPU: what its guest has used, and until when it is busy.
/// Cloning gives another handle on the same CPU.
#[derive(Clone)]
pub struct Cpu {
    state: Arc<Mutex<State>>,
    handle: Handle,
}

/// What a guest used, as its report shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Fuel burnt (about one unit per wasm instruction).
    pub fuel: u64,
    /// Calls into the host.
    pub host_calls: u64,
    /// Simulated CPU time: fuel at [`NANOS_PER_FUEL`] and host calls at
    /// [`HOST_CALL_NANOS`], in nanoseconds.
    pub cpu_nanos: u64,
}

struct State {
    /// The fuel the store started with: what a reading is subtracted from.
    fuel_given: u64,
    /// Fuel charged so far.
    charged: u64,
    /// Fuel yields seen so far.
    yields: u64,
    /// Host calls so far.
    host_calls: u64,
    /// Whether the guest is inside a host call: a pending poll of its call
    /// then waits for the host, and is not a fuel yield.
    in_host: bool,
    /// Simulated time, in nanoseconds, at which the CPU is done with what
    /// it has been charged; never behind the time it was last charged at.
    busy_until: u64,
    /// The CPU limit, in nanoseconds of CPU time.
    limit: u64,
}

impl Cpu {
    /// The CPU of a guest that may use `limit` of CPU time, on `handle`'s
    /// simulation; its store is to be given [`Cpu::fuel`].
    pub fn new(handle: Handle, limit: Duration) -> Cpu {
        let limit = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
        Cpu {
            state: Arc::new(Mutex::new(State {
                fuel_given: limit / NANOS_PER_FUEL,
                charged: 0,
                yields: 0,
                host_calls: 0,
                in_host: false,
                busy_until: 0,
                limit,
            })),
            handle,
        }
    }

    /// The fuel the guest's store starts with: its CPU limit's worth, so
    /// that running out of it is the limit.
    pub fn fuel(&self) -> u64 {
        self.lock().fuel_given
    }

    /// The call hook that charges each host call; install it with
    /// `Store::call_hook_async`.
    pub fn hook(&self) -> CpuHook {
        CpuHook { cpu: self.clone() }
    }

    /// `call` (the guest's call, made in the store this CPU's hook is on),
    /// charged at every fuel yield and finishing only once the CPU is free.
    pub fn metered<F: Future>(&self, call: F) -> Metered<F> {
        Metered {
            call: Box::pin(call),
            cpu: self.clone(),
            wait: None,
            done: None,
        }
    }

    /// What the guest has used so far.
    pub fn usage(&self) -> Usage {
        let s = self.lock();
        Usage {
            fuel: s.charged,
            host_calls: s.host_calls,
            cpu_nanos: s.cpu_nanos(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The simulated time, in ns, for a charge.
    fn now_nanos(&self) -> u64 {
        self.handle.now_micros().saturating_mul(1000)
    }

    /// The guest calls the host, with `left` units of fuel in its store:
    /// charges the fuel burnt since the last charge and the call; when the
    /// CPU is busy past now, the µs to wait until; `Err` past the limit.
    fn enter_host(&self, left: u64) -> Result<Option<u64>, wasmtime::Trap> {
        let now = self.now_nanos();
        let mut s = self.lock();
        s.in_host = true;
        let burnt = s.fuel_given.saturating_sub(left);
        let due = s.charge(burnt, 1, now);
        if s.cpu_nanos() >= s.limit {
            return Err(wasmtime::Trap::OutOfFuel);
        }
        Ok(due)
    }

    fn leave_host(&self) {
        self.lock().in_host = false;
    }

    /// A fuel yield, unless the guest is inside a host call: it has burnt
    /// one more interval since its start. When to wait until, as
    /// [`Cpu::enter_host`].
    fn fuel_yield(&self) -> Option<u64> {
        let now = self.now_nanos();
        let mut s = self.lock();
        if s.in_host {
            return None;
        }
        s.yields += 1;
        let burnt = s.yields.saturating_mul(FUEL_YIELD_INTERVAL);
        s.charge(burnt, 0, now)
    }

    /// Charges everything up to the store's reading (`left`: its
    /// `get_fuel`): as wasm returns, and for a call that ended (a trap
    /// skips the last hook). When to wait until, as [`Cpu::enter_host`].
    pub fn settle(&self, left: u64) -> Option<u64> {
        let now = self.now_nanos();
        let mut s = self.lock();
        let burnt = s.fuel_given.saturating_sub(left);
        s.charge(burnt, 0, now)
    }

    /// When the CPU is free, if later than now (µs).
    fn busy_until(&self) -> Option<u64> {
        let now = self.now_nanos();
        self.lock().charge(0, 0, now)
    }
}

impl State {
    /// Charges fuel up to `burnt` in all and `calls` host calls at `now`
    /// (ns); the simulated time (µs) the CPU is busy until, if that is
    /// later than now.
    fn charge(&mut self, burnt: u64, calls: u64, now: u64) -> Option<u64> {
        let fuel = burnt.saturating_sub(self.charged);
        self.charged = self.charged.max(burnt);
        self.host_calls += calls;
        let cost = fuel
            .saturating_mul(NANOS_PER_FUEL)
            .saturating_add(calls.saturating_mul(HOST_CALL_NANOS));
        self.busy_until = self.busy_until.max(now).saturating_add(cost);
        // Less than a microsecond of debt is carried, not waited for: time
        // is counted in whole microseconds.
        let due = self.busy_until / 1000;
        (due > now / 1000).then_some(due)
    }

    fn cpu_nanos(&self) -> u64 {
        self.charged
            .saturating_mul(NANOS_PER_FUEL)
            .saturating_add(self.host_calls.saturating_mul(HOST_CALL_NANOS))
    }
}

/// [`Cpu`]'s call hook: charges every host call and waits, before the call
/// runs, until the node's CPU is free; stops the guest (out of fuel, its
/// CPU limit) once its CPU time reaches the limit.
pub struct CpuHook {
    cpu: Cpu,
}

#[async_trait::async_trait]
impl<T: Send> wasmtime::CallHookHandler<T> for CpuHook {
    async fn handle_call_event(
        &self,
        store: StoreContextMut<'_, T>,
        hook: CallHook,
    ) -> wasmtime::Result<()> {
        match hook {
            CallHook::CallingHost => {
                if let Some(due) = self.cpu.enter_host(store.get_fuel().unwrap_or(0))? {
                    Sleep::until(self.cpu.handle.clone(), due).await;
                }
            }
            CallHook::ReturningFromHost => self.cpu.leave_host(),
            CallHook::CallingWasm => {}
            // Charged now, waited for by `Metered` once the call is done.
            CallHook::ReturningFromWasm => drop(self.cpu.settle(store.get_fuel().unwrap_or(0))),
        }
        Ok(())
    }
}

/// A guest's call, charged at every fuel yield ([`Cpu::metered`]).
pub struct Metered<F: Future> {
    /// The call, boxed so that `Metered` is `Unpin`.
    call: Pin<Box<F>>,
    cpu: Cpu,
    /// The CPU's busy time being waited out.
    wait: Option<Sleep>,
    /// The call's output, held until the CPU is free.
    done: Option<F::Output>,
}

impl<F: Future> Unpin for Metered<F> {}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        loop {
            if let Some(wait) = &mut this.wait {
                if Pin::new(wait).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.wait = None;
            }
            if let Some(out) = this.done.take() {
                return Poll::Ready(out);
            }
            match this.call.as_mut().poll(cx) {
                // The hook charged the last stretch as wasm returned; what
                // is left is to wait for it.
                Poll::Ready(out) => match this.cpu.busy_until() {
                    Some(due) => {
                        this.done = Some(out);
                        this.wait = Some(Sleep::until(this.cpu.handle.clone(), due));
                    }
                    None => return Poll::Ready(out),
                },
                Poll::Pending => match this.cpu.fuel_yield() {
                    Some(due) => this.wait = Some(Sleep::until(this.cpu.handle.clone(), due)),
                    None => return Poll::Pending,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Sim, spawn};

    /// A call that yields `n` times without calling the host, as a guest
    /// burning fuel does, then returns `n`.
    fn yielding(n: u64) -> impl Future<Output = u64> {
        let mut left = n;
        std::future::poll_fn(move |cx| {
            if left == 0 {
                return Poll::Ready(n);
            }
            left -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        })
    }

    /// Simulated µs that `yields` fuel yields cost.
    fn cost(yields: u64) -> u64 {
        yields * FUEL_YIELD_INTERVAL * NANOS_PER_FUEL / 1000
    }

    #[test]
    fn cpu_each_fuel_yield_costs_one_interval_of_simulated_time() {
        let mut sim = Sim::new(1);
        let handle = sim.handle();
        let cpu = Cpu::new(handle.clone(), Duration::from_secs(1));
        let out = sim.block_on(cpu.metered(yielding(5))).unwrap();
        assert_eq!(out, 5);
        assert_eq!(handle.now_micros(), cost(5));
        assert_eq!(cpu.usage().fuel, 5 * FUEL_YIELD_INTERVAL);
        assert_eq!(cpu.usage().cpu_nanos, cost(5) * 1000);
    }

    #[test]
    fn cpu_two_nodes_compute_side_by_side_and_a_timer_fires_between() {
        let mut sim = Sim::new(1);
        let handle = sim.handle();
        let (a, b) = (
            Cpu::new(handle.clone(), Duration::from_secs(1)),
            Cpu::new(handle.clone(), Duration::from_secs(1)),
        );
        let (ended, timer) = sim
            .block_on(async {
                let first = spawn(a.metered(yielding(10)));
                let second = spawn(b.metered(yielding(10)));
                // A node that only sleeps wakes on time, in the middle.
                let sleeper = spawn(async {
                    crate::time::sleep(Duration::from_micros(cost(3))).await;
                    crate::time::now_micros()
                });
                first.await.unwrap();
                second.await.unwrap();
                (crate::time::now_micros(), sleeper.await.unwrap())
            })
            .unwrap();
        // Each node has a CPU of its own: both finish at 10 yields' time.
        assert_eq!(ended, cost(10));
        assert_eq!(timer, cost(3));
    }

    #[test]
    fn cpu_host_calls_under_a_microsecond_add_up_before_time_moves() {
        let mut sim = Sim::new(1);
        let handle = sim.handle();
        let cpu = Cpu::new(handle.clone(), Duration::from_secs(1));
        let calls = 10;
        sim.block_on(async {
            for _ in 0..calls {
                // A host call that burnt no fuel before it.
                if let Some(due) = cpu.enter_host(cpu.fuel()).unwrap() {
                    Sleep::until(handle.clone(), due).await;
                }
                cpu.leave_host();
            }
        })
        .unwrap();
        // Ten calls of 500 ns are 5 us, not ten rounded-up microseconds.
        assert_eq!(handle.now_micros(), calls * HOST_CALL_NANOS / 1000);
        assert_eq!(cpu.usage().host_calls, calls);
    }

    #[test]
    fn cpu_idle_time_is_not_credited() {
        let mut sim = Sim::new(1);
        let handle = sim.handle();
        let cpu = Cpu::new(handle.clone(), Duration::from_secs(1));
        sim.block_on(async {
            crate::time::sleep(Duration::from_millis(1)).await;
            cpu.metered(yielding(2)).await
        })
        .unwrap();
        // Busy from 1 ms on, not from the start.
        assert_eq!(handle.now_micros(), 1000 + cost(2));
    }
}
