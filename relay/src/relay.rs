//! What a link is made of ([`LinkSpec`]), the handle of a running relay
//! ([`Relay`]), and the tasks it owns.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::task::JoinHandle;

use crate::capture::Capture;
use crate::stats::{LinkStats, Recorder};

/// One link: where the relay listens, the server it forwards to, and what it
/// does to each direction. `I` is [`crate::UdpImpairments`] or
/// [`crate::TcpImpairments`].
#[derive(Clone, Debug)]
pub struct LinkSpec<I> {
    /// The link's name; part of every draw, so two links with the same seed
    /// still impair differently.
    pub name: String,
    /// The seed of every draw on this link.
    pub seed: u64,
    /// Where the relay binds, e.g. `127.0.0.1:0`; [`Relay::addr`] tells the
    /// port chosen.
    pub listen: SocketAddr,
    /// The real server.
    pub server: SocketAddr,
    /// What happens to client → server traffic.
    pub to_server: I,
    /// What happens to server → client traffic.
    pub to_client: I,
    /// Where to record what was delivered; `None`: nothing is recorded.
    pub capture: Option<Capture>,
}

impl<I> LinkSpec<I> {
    /// Validates both directions with `validate`, then splits the spec into
    /// what both relays share (given the address the relay bound) and the two
    /// directions' impairments.
    pub(crate) fn split(
        self,
        validate: impl Fn(&I) -> Result<(), String>,
    ) -> io::Result<(Base, I, I)> {
        check("to_server", validate(&self.to_server))?;
        check("to_client", validate(&self.to_client))?;
        let base = Base {
            name: self.name,
            seed: self.seed,
            listen: self.listen,
            server: self.server,
            capture: self.capture,
            recorder: Recorder::new(),
            tasks: Tasks::default(),
        };
        Ok((base, self.to_server, self.to_client))
    }
}

/// What a UDP or TCP relay's tasks share, apart from the impairments.
pub(crate) struct Base {
    /// [`LinkSpec::name`].
    pub(crate) name: String,
    /// [`LinkSpec::seed`].
    pub(crate) seed: u64,
    /// Where the relay listens: [`LinkSpec::listen`] until bound, then the
    /// address bound (see [`Base::bound`]).
    pub(crate) listen: SocketAddr,
    /// [`LinkSpec::server`].
    pub(crate) server: SocketAddr,
    /// [`LinkSpec::capture`].
    pub(crate) capture: Option<Capture>,
    /// The relay's stats.
    pub(crate) recorder: Recorder,
    /// The relay's tasks.
    pub(crate) tasks: Tasks,
}

impl Base {
    /// Records the address the relay actually bound.
    pub(crate) fn bound(mut self, addr: SocketAddr) -> Base {
        self.listen = addr;
        self
    }

    /// The handle of the relay that this is the base of.
    pub(crate) fn handle(&self) -> Relay {
        Relay {
            addr: self.listen,
            recorder: self.recorder.clone(),
            tasks: self.tasks.clone(),
        }
    }
}

/// A running relay. Dropping it stops it as [`Relay::stop`] does, without
/// waiting.
pub struct Relay {
    pub(crate) addr: SocketAddr,
    pub(crate) recorder: Recorder,
    pub(crate) tasks: Tasks,
}

impl Relay {
    /// The relay's own address, where the client is wired instead of the
    /// server.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// When the relay started: the zero of its events' `at_us`.
    pub fn started(&self) -> std::time::Instant {
        self.recorder.start()
    }

    /// What the relay has done so far.
    pub fn stats(&self) -> LinkStats {
        self.recorder.snapshot()
    }

    /// Stops accepting, reading and forwarding; drops what is still queued
    /// (it stays counted in each direction's `pending`), closes every socket
    /// the relay opened, and returns the final stats.
    pub async fn stop(self) -> LinkStats {
        self.tasks.stop().await;
        self.recorder.snapshot()
    }
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.tasks.abort();
    }
}

/// The tasks of one relay, so that stopping it ends all of them, including
/// those started after it began (one per TCP connection or UDP client).
#[derive(Clone, Default)]
pub(crate) struct Tasks {
    inner: Arc<Mutex<TaskList>>,
}

#[derive(Default)]
struct TaskList {
    stopped: bool,
    handles: Vec<JoinHandle<()>>,
}

impl Tasks {
    fn lock(&self) -> MutexGuard<'_, TaskList> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `task` until it finishes or the relay stops. Once the relay has
    /// stopped, `task` is dropped unrun.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut list = self.lock();
        if list.stopped {
            return;
        }
        list.handles.retain(|h| !h.is_finished());
        list.handles.push(tokio::spawn(task));
    }

    /// Aborts every task and waits until each has ended (and so dropped its
    /// sockets).
    async fn stop(&self) {
        let handles = {
            let mut list = self.lock();
            list.stopped = true;
            std::mem::take(&mut list.handles)
        };
        for h in &handles {
            h.abort();
        }
        for h in handles {
            // A task ends either by finishing or by being cancelled: both are
            // what stopping wants, and a task's panic has nothing to add here.
            let _ = h.await;
        }
    }

    fn abort(&self) {
        let mut list = self.lock();
        list.stopped = true;
        for h in list.handles.drain(..) {
            h.abort();
        }
    }
}

/// `Err(InvalidInput)` naming the direction, when an impairment is nonsense.
fn check(direction: &str, checked: Result<(), String>) -> io::Result<()> {
    checked.map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{direction}: {e}")))
}
