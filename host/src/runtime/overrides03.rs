//! socklab's own WASI 0.3 socket creation and accepts, over wasmtime-wasi's:
//! the twin of [`overrides`](super::overrides) for
//! `wasi:sockets/types@0.3.0`.
//!
//! `tcp-socket.create` and `udp-socket.create` are refused with
//! `access-denied` for the transport a role may not use (and recorded in
//! the audit), refused past `max-sockets`, and counted otherwise; then
//! wasmtime-wasi's own creation runs, so the sockets are wasmtime-wasi's and
//! every later bind, connect, listen and accept goes through the guest's
//! policy by `socket_addr_check`.
//!
//! `tcp-socket.listen` is wasmtime-wasi's, with its `stream<tcp-socket>`
//! piped through a gate of socklab's before the guest reads it: each
//! accepted connection past `max-sockets` or `max-connections` is closed
//! there, the guest never seeing it (0.2's `accept` returns an error
//! instead; 0.3's stream has no place for one). wasmtime-wasi 48's own
//! producer is crate-private, hence the pipe.
//!
//! # TODO
//! - Name lookups (`ip-name-lookup@0.3.0`) are wasmtime-wasi's on/off
//!   switch, set from the rules as for 0.2, without the per-name check.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use anyhow::Result;
use wasmtime::component::{
    Access, Destination, Linker, Resource, Source, StreamConsumer, StreamProducer, StreamReader,
    StreamResult,
};
use wasmtime::{AsContextMut as _, StoreContextMut};
use wasmtime_wasi::p3::bindings::sockets::types::{
    ErrorCode, HostTcpSocket, HostTcpSocketWithStore, HostUdpSocket, IpAddressFamily,
};
use wasmtime_wasi::p3::sockets::SocketError;
use wasmtime_wasi::sockets::{TcpSocket, UdpSocket, WasiSockets, WasiSocketsView};

use super::state::{GuestState, SocketKind};
use crate::roles::Transport;

/// The interface whose functions these replace.
const TYPES: &str = "wasi:sockets/types@0.3.0";

/// A result as a component function returns it: a trap, or the WIT result.
type Wit<T> = wasmtime::Result<(Result<T, ErrorCode>,)>;

/// Link socklab's 0.3 overrides over wasmtime-wasi's definitions.
pub fn add(linker: &mut Linker<GuestState>) -> Result<()> {
    linker.allow_shadowing(true);
    let mut types = linker.instance(TYPES)?;
    types.func_wrap(
        "[static]tcp-socket.create",
        |mut store: StoreContextMut<'_, GuestState>,
         (family,): (IpAddressFamily,)|
         -> Wit<Resource<TcpSocket>> {
            let state = store.data_mut();
            if let Err(code) = may_create(state, Transport::Tcp) {
                return Ok((Err(code),));
            }
            let created = wit(HostTcpSocket::create(&mut state.sockets(), family))?;
            if let Ok(socket) = &created.0 {
                state.track_socket(SocketKind::Tcp03, socket.rep(), false);
            }
            Ok(created)
        },
    )?;
    types.func_wrap_async(
        "[static]udp-socket.create",
        |mut store: StoreContextMut<'_, GuestState>, (family,): (IpAddressFamily,)| {
            Box::new(async move {
                let state = store.data_mut();
                if let Err(code) = may_create(state, Transport::Udp) {
                    return Ok((Err(code),));
                }
                let created: (Result<Resource<UdpSocket>, ErrorCode>,) =
                    wit(HostUdpSocket::create(&mut state.sockets(), family).await)?;
                if let Ok(socket) = &created.0 {
                    state.track_socket(SocketKind::Udp03, socket.rep(), false);
                }
                Ok(created)
            })
        },
    )?;
    types.func_wrap_async(
        "[method]tcp-socket.listen",
        |mut store: StoreContextMut<'_, GuestState>, (socket,): (Resource<TcpSocket>,)| {
            Box::new(async move {
                let access = Access::<GuestState, WasiSockets>::new(
                    store.as_context_mut(),
                    GuestState::sockets,
                );
                let listened =
                    <WasiSockets as HostTcpSocketWithStore<GuestState>>::listen(access, socket)
                        .await;
                let accepted = match wit(listened)? {
                    (Ok(accepted),) => accepted,
                    (Err(code),) => return Ok((Err(code),)),
                };
                let slot = Arc::new(Mutex::new(Slot::default()));
                accepted.pipe(&mut store, Gate(slot.clone()))?;
                let gated = StreamReader::new(&mut store, Gated(slot))?;
                Ok((Ok(gated),))
            })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// What passes from the [`Gate`] to the guest's end, [`Gated`]: one
/// admitted connection at a time, so a flood of connections waits in the
/// kernel's backlog rather than in socklab.
#[derive(Default)]
struct Slot {
    /// An admitted connection the guest has not read yet.
    socket: Option<Resource<TcpSocket>>,
    /// wasmtime-wasi's stream has ended.
    ended: bool,
    /// The guest dropped its stream.
    dropped: bool,
    /// The guest's read, waiting for a connection.
    reader: Option<Waker>,
    /// The gate, waiting for the guest to take the last one.
    writer: Option<Waker>,
}

impl Slot {
    /// Wake the guest's read, if it waits.
    fn wake_reader(&mut self) {
        if let Some(reader) = self.reader.take() {
            reader.wake();
        }
    }

    /// Wake the gate, if it waits for room.
    fn wake_writer(&mut self) {
        if let Some(writer) = self.writer.take() {
            writer.wake();
        }
    }
}

fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads wasmtime-wasi's accepted connections: admits each the limits
/// allow into the [`Slot`], closes the others.
struct Gate(Arc<Mutex<Slot>>);

impl StreamConsumer<GuestState> for Gate {
    type Item = Resource<TcpSocket>;

    fn poll_consume(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<'_, GuestState>,
        mut source: Source<'_, Self::Item>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let mut slot = lock(&self.0);
        if slot.dropped {
            // Nobody will read it: the last admitted one closes now.
            if let Some(socket) = slot.socket.take() {
                store.data_mut().close_accepted03(socket)?;
            }
            return Poll::Ready(Ok(StreamResult::Dropped));
        }
        if slot.socket.is_some() {
            if finish {
                return Poll::Ready(Ok(StreamResult::Cancelled));
            }
            slot.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let mut taken = None;
        source.read(&mut store, &mut taken)?;
        if let Some(socket) = taken {
            let state = store.data_mut();
            match state.admit_accepted(SocketKind::Tcp03, socket.rep()) {
                Ok(()) => {
                    slot.socket = Some(socket);
                    slot.wake_reader();
                }
                Err(_) => state.close_accepted03(socket)?,
            }
        }
        Poll::Ready(Ok(StreamResult::Completed))
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        let mut slot = lock(&self.0);
        slot.ended = true;
        slot.wake_reader();
    }
}

/// The guest's end: the `stream<tcp-socket>` its `listen` returns, carrying
/// the connections the [`Gate`] admitted.
struct Gated(Arc<Mutex<Slot>>);

impl StreamProducer<GuestState> for Gated {
    type Item = Resource<TcpSocket>;
    type Buffer = Option<Self::Item>;

    fn poll_produce<'a>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<'a, GuestState>,
        mut destination: Destination<'a, Self::Item, Self::Buffer>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let mut slot = lock(&self.0);
        // An empty read asks only whether a connection is ready.
        let ready_only = destination.remaining(&mut store) == Some(0);
        if slot.socket.is_some() && ready_only {
            return Poll::Ready(Ok(StreamResult::Completed));
        }
        if let Some(socket) = slot.socket.take() {
            destination.set_buffer(Some(socket));
            slot.wake_writer();
            return Poll::Ready(Ok(StreamResult::Completed));
        }
        if slot.ended {
            return Poll::Ready(Ok(StreamResult::Dropped));
        }
        if finish {
            return Poll::Ready(Ok(StreamResult::Cancelled));
        }
        slot.reader = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Gated {
    fn drop(&mut self) {
        let mut slot = lock(&self.0);
        slot.dropped = true;
        slot.wake_writer();
    }
}

/// [`GuestState::may_create`], its refusal in 0.3's words: 0.3 has no
/// `new-socket-limit`, so the socket limit is `other` with that name.
fn may_create(state: &mut GuestState, transport: Transport) -> Result<(), ErrorCode> {
    use wasmtime_wasi::p2::bindings::sockets::network::ErrorCode as Code02;
    state.may_create(transport).map_err(|code| match code {
        Code02::AccessDenied => ErrorCode::AccessDenied,
        other => ErrorCode::Other(Some(other.name().to_string())),
    })
}

/// Split wasmtime-wasi's error into a trap or the WIT error code.
fn wit<T>(result: Result<T, SocketError>) -> Wit<T> {
    match result {
        Ok(v) => Ok((Ok(v),)),
        Err(e) => Ok((Err(e.downcast()?),)),
    }
}
