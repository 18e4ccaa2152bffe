//! socklab's own WASI 0.3 socket creation, over wasmtime-wasi's: the twin of
//! [`overrides`](super::overrides) for `wasi:sockets/types@0.3.0`.
//!
//! `tcp-socket.create` and `udp-socket.create` are refused with
//! `access-denied` for the transport a role may not use (and recorded in
//! the audit), refused past `max-sockets`, and counted otherwise; then
//! wasmtime-wasi's own creation runs, so the sockets are wasmtime-wasi's and
//! every later bind, connect, listen and accept goes through the guest's
//! policy by `socket_addr_check`.
//!
//! # TODO
//! - Accepted sockets come from the `stream<tcp-socket>` that `listen`
//!   returns, made inside wasmtime-wasi; socklab does not see them one by
//!   one, so `max-connections` and `max-sockets` do not yet count a 0.3
//!   server's accepted connections.
//! - Name lookups (`ip-name-lookup@0.3.0`) are wasmtime-wasi's on/off
//!   switch, set from the rules as for 0.2, without the per-name check.

use anyhow::Result;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::p3::bindings::sockets::types::{
    ErrorCode, HostTcpSocket, HostUdpSocket, IpAddressFamily,
};
use wasmtime_wasi::p3::sockets::SocketError;
use wasmtime_wasi::sockets::{TcpSocket, UdpSocket, WasiSocketsView};

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
    linker.allow_shadowing(false);
    Ok(())
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
