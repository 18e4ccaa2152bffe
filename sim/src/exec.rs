//! The deterministic executor: [`Sim`], its [`Handle`], [`spawn`] and
//! [`JoinHandle`].
//!
//! [`Sim::block_on`] polls one task at a time, on the calling thread, in the
//! order tasks became runnable (the main future first). When no task is
//! runnable, simulated time jumps to the earliest pending timer and fires
//! every timer due then, in the order they were set. When nothing is
//! runnable and no timer is pending, the run is a deadlock:
//! [`Stalled`] is returned instead of hanging. Nothing here reads the real
//! clock or the operating system's randomness.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::core::{MAIN, Shared, TaskId};

/// One simulated world: its clock, its executor and its network, all driven
/// by one seed.
pub struct Sim {
    handle: Handle,
}

/// A cheap, cloneable reference to a [`Sim`], usable from any thread (the
/// simulation itself only ever runs on the thread calling `block_on`).
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

/// `block_on`'s main future could not finish: no task was runnable and no
/// timer was pending (every task waits for something that never comes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stalled {
    /// Simulated time of the deadlock, in microseconds.
    pub at_micros: u64,
    /// Spawned tasks still unfinished, besides the main future.
    pub tasks: usize,
}

impl fmt::Display for Stalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the simulation stalled at {} us: every task waits and no timer is pending \
             ({} spawned tasks unfinished)",
            self.at_micros, self.tasks
        )
    }
}

impl std::error::Error for Stalled {}

/// A spawned task was aborted (or its simulation ended) before it finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the task was cancelled before it finished")
    }
}

impl std::error::Error for Cancelled {}

type Task = Pin<Box<dyn Future<Output = ()>>>;

/// What the running `block_on` keeps on its thread.
struct Local {
    handle: Handle,
    next_id: Cell<TaskId>,
    /// Tasks spawned since the executor last looked, in spawn order.
    spawned: RefCell<Vec<(TaskId, Task)>>,
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<Local>>> = const { RefCell::new(None) };
}

/// Clears the thread's current simulation when `block_on` returns or unwinds.
struct Enter;

impl Drop for Enter {
    fn drop(&mut self) {
        CURRENT.with(|c| c.borrow_mut().take());
    }
}

fn current() -> Rc<Local> {
    CURRENT
        .with(|c| c.borrow().clone())
        .expect("socklab_sim: spawn, now_micros, sleep and timeout work only inside Sim::block_on")
}

/// The handle of the simulation running on this thread.
///
/// # Panics
/// Outside [`Sim::block_on`].
pub fn handle() -> Handle {
    current().handle.clone()
}

impl Sim {
    /// A new world at simulated time 0, every choice drawn from `seed`.
    pub fn new(seed: u64) -> Sim {
        Sim {
            handle: Handle {
                shared: Shared::new(seed),
            },
        }
    }

    /// A handle to this world.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Runs `fut` and the tasks it spawns until `fut` finishes; tasks still
    /// unfinished then are dropped. Returns [`Stalled`] on a deadlock.
    ///
    /// # Panics
    /// When called from inside another `block_on` on the same thread.
    pub fn block_on<F: Future>(&mut self, fut: F) -> Result<F::Output, Stalled> {
        let local = Rc::new(Local {
            handle: self.handle.clone(),
            next_id: Cell::new(MAIN + 1),
            spawned: RefCell::new(Vec::new()),
        });
        CURRENT.with(|c| {
            let mut c = c.borrow_mut();
            assert!(c.is_none(), "socklab_sim: Sim::block_on inside block_on");
            *c = Some(local.clone());
        });
        let _enter = Enter;
        let mut tasks = std::collections::BTreeMap::<TaskId, Task>::new();
        let result = self.run(&local, &mut tasks, pin!(fut));
        // Dropped while the simulation is still current, so that their
        // destructors may use it.
        drop(tasks);
        local.spawned.borrow_mut().clear();
        result
    }

    fn run<T>(
        &self,
        local: &Local,
        tasks: &mut std::collections::BTreeMap<TaskId, Task>,
        mut main: Pin<&mut impl Future<Output = T>>,
    ) -> Result<T, Stalled> {
        let shared = &self.handle.shared;
        shared.ready().schedule(MAIN);
        loop {
            tasks.extend(local.spawned.borrow_mut().drain(..));
            let aborted = std::mem::take(&mut shared.ready().aborted);
            for id in aborted {
                tasks.remove(&id);
            }
            let next = shared.ready().pop();
            match next {
                Some(MAIN) => {
                    let waker = shared.waker(MAIN);
                    if let Poll::Ready(out) = main.as_mut().poll(&mut Context::from_waker(&waker)) {
                        return Ok(out);
                    }
                }
                Some(id) => {
                    let Some(mut task) = tasks.remove(&id) else {
                        continue; // finished or aborted; a late wake
                    };
                    let waker = shared.waker(id);
                    if task
                        .as_mut()
                        .poll(&mut Context::from_waker(&waker))
                        .is_pending()
                    {
                        tasks.insert(id, task);
                    }
                }
                None => {
                    if !shared.core().fire_next() {
                        return Err(Stalled {
                            at_micros: shared.core().now,
                            tasks: tasks.len(),
                        });
                    }
                }
            }
        }
    }
}

impl Handle {
    /// The seed of this world.
    pub fn seed(&self) -> u64 {
        self.shared.seed
    }

    /// Simulated time, in microseconds since the world was made.
    pub fn now_micros(&self) -> u64 {
        self.shared.core().now
    }
}

/// Runs `fut` as a task of the current simulation, after the tasks already
/// runnable. Dropping the [`JoinHandle`] lets the task run on.
///
/// # Panics
/// Outside [`Sim::block_on`].
pub fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let local = current();
    let id = local.next_id.get();
    local.next_id.set(id + 1);
    let slot = Arc::new(Mutex::new(Slot {
        result: None,
        waker: None,
    }));
    let done = slot.clone();
    let task: Task = Box::pin(async move {
        let out = fut.await;
        finish(&done, Ok(out));
    });
    local.spawned.borrow_mut().push((id, task));
    local.handle.shared.ready().schedule(id);
    JoinHandle {
        id,
        slot,
        handle: local.handle.clone(),
    }
}

/// Awaits a spawned task: its output, or [`Cancelled`] when it was aborted.
pub struct JoinHandle<T> {
    id: TaskId,
    slot: Arc<Mutex<Slot<T>>>,
    handle: Handle,
}

struct Slot<T> {
    result: Option<Result<T, Cancelled>>,
    waker: Option<Waker>,
}

fn finish<T>(slot: &Mutex<Slot<T>>, result: Result<T, Cancelled>) {
    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
    if slot.result.is_none() {
        slot.result = Some(result);
    }
    if let Some(waker) = slot.waker.take() {
        waker.wake();
    }
}

impl<T> JoinHandle<T> {
    /// Stops the task before its next poll (its future is dropped); an
    /// awaiting caller gets [`Cancelled`]. Does nothing once it finished.
    pub fn abort(&self) {
        self.handle.shared.ready().aborted.push(self.id);
        finish(&self.slot, Err(Cancelled));
    }

    /// Whether the task has finished or been aborted.
    pub fn is_finished(&self) -> bool {
        let slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.result.is_some()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        match slot.result.take() {
            Some(result) => Poll::Ready(result),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
