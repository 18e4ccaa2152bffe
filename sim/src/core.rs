//! The state one simulation shares between its executor, its network and
//! its guests' resources: simulated time, the timer queue, the run queue,
//! the network, the event log and the capture.
//!
//! Two locks, always taken in this order: `core` (time, timers, network,
//! log), then `ready` (the run queue). A waker takes only `ready`, so any
//! code may wake a task while holding `core`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Wake, Waker};

use crate::capture::Capture;
use crate::net::record::Record;
use crate::net::tcp::stack::IpFlight;
use crate::net::udp::InFlight;
use crate::net::world::Net;

/// A task's number; the main future of `block_on` is [`MAIN`].
pub(crate) type TaskId = u64;

/// The main future's task number.
pub(crate) const MAIN: TaskId = 0;

/// What one simulation shares.
pub(crate) struct Shared {
    /// The seed every choice is drawn from.
    pub(crate) seed: u64,
    /// Time, timers, network, log.
    pub(crate) core: Mutex<Core>,
    /// Tasks to poll, in the order they became runnable.
    pub(crate) ready: Mutex<ReadyQueue>,
    /// `Core::now`, readable without the core's lock: a host callback
    /// made while the core is locked (a grant check that stamps its
    /// refusal with the time) may ask for the time.
    pub(crate) clock: Arc<AtomicU64>,
}

impl Shared {
    pub(crate) fn new(seed: u64) -> Arc<Shared> {
        let clock = Arc::new(AtomicU64::new(0));
        Arc::new(Shared {
            seed,
            clock: clock.clone(),
            core: Mutex::new(Core {
                clock,
                now: 0,
                seq: 0,
                timers: BTreeMap::new(),
                net: Net::new(seed),
                log: Vec::new(),
                capture: None,
            }),
            ready: Mutex::new(ReadyQueue::default()),
        })
    }

    /// The core, locked. The simulation runs on one thread, so the lock is
    /// never contended; a panic while it was held leaves state still worth
    /// reading (for a report), so poisoning is ignored.
    pub(crate) fn core(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn ready(&self) -> MutexGuard<'_, ReadyQueue> {
        self.ready.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A waker that makes task `id` runnable.
    pub(crate) fn waker(self: &Arc<Self>, id: TaskId) -> Waker {
        Waker::from(Arc::new(TaskWaker {
            id,
            shared: Arc::downgrade(self),
        }))
    }
}

/// Time, timers, network and log of one simulation.
pub(crate) struct Core {
    /// Simulated time, in microseconds since the simulation started.
    pub(crate) now: u64,
    /// The same, for [`Shared::clock`].
    clock: Arc<AtomicU64>,
    /// Insertion counter: the tie-break between timers due at the same time.
    seq: u64,
    /// What is due when, in (due time, insertion) order.
    timers: BTreeMap<TimerKey, Timer>,
    /// The nodes, links and sockets.
    pub(crate) net: Net,
    /// Every bind, send, receive, drop and close, in order.
    pub(crate) log: Vec<Record>,
    /// Where every IP packet sent is recorded, once `Handle::capture_to`
    /// has started a capture.
    pub(crate) capture: Option<Capture>,
}

/// A timer's place in the queue: due time, then insertion order.
pub(crate) type TimerKey = (u64, u64);

/// What happens when a timer is due.
pub(crate) enum Timer {
    /// Wake a task (a sleep, a clock pollable).
    Wake(Waker),
    /// A datagram arrives at its destination.
    Arrive(Box<InFlight>),
    /// An IP packet (a TCP segment) arrives at its destination node.
    Ip(Box<IpFlight>),
    /// A node's TCP stack is due (smoltcp's `poll_at`: a retransmission, a
    /// delayed ACK, the end of a TIME-WAIT).
    Stack(usize),
}

impl Core {
    /// Queues `timer` at `due`; returns its key.
    pub(crate) fn add_timer(&mut self, due: u64, timer: Timer) -> TimerKey {
        let key = (due, self.seq);
        self.seq += 1;
        self.timers.insert(key, timer);
        key
    }

    /// Replaces the waker of timer `key`; false when it has fired or gone.
    pub(crate) fn rewake(&mut self, key: TimerKey, waker: &Waker) -> bool {
        match self.timers.get_mut(&key) {
            Some(Timer::Wake(w)) => {
                w.clone_from(waker);
                true
            }
            _ => false,
        }
    }

    pub(crate) fn cancel_timer(&mut self, key: TimerKey) {
        self.timers.remove(&key);
    }

    /// Jumps to the earliest due time and fires every timer due then, in
    /// insertion order. False when no timer is pending.
    pub(crate) fn fire_next(&mut self) -> bool {
        let Some((&(due, _), _)) = self.timers.first_key_value() else {
            return false;
        };
        self.now = self.now.max(due);
        self.clock.store(self.now, Ordering::Relaxed);
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 != due {
                break;
            }
            match entry.remove() {
                Timer::Wake(waker) => waker.wake(),
                Timer::Arrive(datagram) => self.arrive(*datagram),
                Timer::Ip(packet) => self.ip_arrive(*packet),
                Timer::Stack(node) => self.stack_due(node),
            }
        }
        true
    }
}

/// The run queue and the tasks to cancel.
#[derive(Default)]
pub(crate) struct ReadyQueue {
    order: VecDeque<TaskId>,
    queued: BTreeSet<TaskId>,
    /// Tasks whose `JoinHandle::abort` was called, in call order.
    pub(crate) aborted: Vec<TaskId>,
}

impl ReadyQueue {
    /// Makes `id` runnable, once however often it is woken.
    pub(crate) fn schedule(&mut self, id: TaskId) {
        if self.queued.insert(id) {
            self.order.push_back(id);
        }
    }

    pub(crate) fn pop(&mut self) -> Option<TaskId> {
        let id = self.order.pop_front()?;
        self.queued.remove(&id);
        Some(id)
    }
}

/// Wakes one task of one simulation; a waker that outlives its simulation
/// does nothing.
struct TaskWaker {
    id: TaskId,
    shared: Weak<Shared>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(shared) = self.shared.upgrade() {
            shared.ready().schedule(self.id);
        }
    }
}
