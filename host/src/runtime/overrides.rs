//! socklab's own versions of the few WASI socket functions it must watch
//! more closely than wasmtime-wasi lets it: socket creation and `accept`
//! (to count sockets and connections against the guest's limits) and name
//! lookups (to check each name against the guest's rules; wasmtime-wasi 48
//! has only an on/off switch for lookups).
//!
//! Each one is linked over wasmtime-wasi's definition and delegates to it
//! once the check has passed, so the sockets themselves are wasmtime-wasi's.

use anyhow::Result;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{Host as _, ResolveAddressStream};
use wasmtime_wasi::p2::bindings::sockets::network::{ErrorCode, IpAddressFamily};
use wasmtime_wasi::p2::bindings::sockets::tcp::HostTcpSocket as _;
use wasmtime_wasi::p2::bindings::sockets::tcp_create_socket::Host as _;
use wasmtime_wasi::p2::bindings::sockets::udp_create_socket::Host as _;
use wasmtime_wasi::p2::{
    DynInputStream, DynOutputStream, Network, SocketError, TcpSocket, UdpSocket,
};
use wasmtime_wasi::sockets::WasiSocketsView;

use super::state::{GuestState, SocketKind};
use crate::limits::LimitKind;
use crate::roles::Transport;

/// The WASI version whose names socklab's overrides replace; components
/// importing any 0.2.x version are served by them.
const WASI: &str = "0.2.12";

/// A result as a component function returns it: a trap, or the WIT result.
type Wit<T> = wasmtime::Result<(Result<T, ErrorCode>,)>;

/// Link socklab's overrides over wasmtime-wasi's definitions in `linker`;
/// `wasmtime_udp`: UDP is wasmtime-wasi's too, so its socket creation is
/// overridden as well (socklab's own UDP counts its sockets itself).
pub fn add(linker: &mut Linker<GuestState>, wasmtime_udp: bool) -> Result<()> {
    linker.allow_shadowing(true);
    create_tcp_socket(linker)?;
    if wasmtime_udp {
        create_udp_socket(linker)?;
    }
    accept(linker)?;
    resolve_addresses(linker)?;
    linker.allow_shadowing(false);
    Ok(())
}

/// `create-tcp-socket`: refused for the other transport or past `max-sockets`, counted otherwise.
fn create_tcp_socket(linker: &mut Linker<GuestState>) -> Result<()> {
    linker
        .instance(&format!("wasi:sockets/tcp-create-socket@{WASI}"))?
        .func_wrap(
            "create-tcp-socket",
            |mut store: StoreContextMut<'_, GuestState>,
             (family,): (IpAddressFamily,)|
             -> Wit<Resource<TcpSocket>> {
                let state = store.data_mut();
                if let Err(code) = state.may_create(Transport::Tcp) {
                    return Ok((Err(code),));
                }
                let created = state.sockets().create_tcp_socket(family);
                let created = wit(created)?;
                if let Ok(socket) = &created.0 {
                    state.track_socket(SocketKind::Tcp, socket.rep(), false);
                }
                Ok(created)
            },
        )?;
    Ok(())
}

/// `create-udp-socket`: refused for the other transport or past `max-sockets`, counted otherwise.
fn create_udp_socket(linker: &mut Linker<GuestState>) -> Result<()> {
    linker
        .instance(&format!("wasi:sockets/udp-create-socket@{WASI}"))?
        .func_wrap_async(
            "create-udp-socket",
            |mut store: StoreContextMut<'_, GuestState>, (family,): (IpAddressFamily,)| {
                Box::new(async move {
                    let state = store.data_mut();
                    if let Err(code) = state.may_create(Transport::Udp) {
                        return Ok((Err(code),));
                    }
                    let created = state.sockets().create_udp_socket(family).await;
                    let created: (Result<Resource<UdpSocket>, ErrorCode>,) = wit(created)?;
                    if let Ok(socket) = &created.0 {
                        state.track_socket(SocketKind::Udp, socket.rep(), false);
                    }
                    Ok(created)
                })
            },
        )?;
    Ok(())
}

/// `tcp-socket.accept`: a connection past `max-sockets` or `max-connections` is closed before the guest sees it.
fn accept(linker: &mut Linker<GuestState>) -> Result<()> {
    linker
        .instance(&format!("wasi:sockets/tcp@{WASI}"))?
        .func_wrap(
            "[method]tcp-socket.accept",
            |mut store: StoreContextMut<'_, GuestState>,
             (this,): (Resource<TcpSocket>,)|
             -> Wit<(
                Resource<TcpSocket>,
                Resource<DynInputStream>,
                Resource<DynOutputStream>,
            )> {
                let state = store.data_mut();
                let accepted = wit(state.sockets().accept(this))?;
                let Ok((socket, input, output)) = accepted.0 else {
                    return Ok(accepted);
                };
                // Over a limit: close the connection before the guest sees it.
                if let Err(limit) = state.admit_accepted(SocketKind::Tcp, socket.rep()) {
                    state.close_accepted(socket, input, output)?;
                    let code = match limit {
                        LimitKind::Sockets => ErrorCode::NewSocketLimit,
                        _ => ErrorCode::WouldBlock,
                    };
                    return Ok((Err(code),));
                }
                Ok((Ok((socket, input, output)),))
            },
        )?;
    Ok(())
}

/// `resolve-addresses`: each name checked against the guest's `dns=` rules.
fn resolve_addresses(linker: &mut Linker<GuestState>) -> Result<()> {
    linker
        .instance(&format!("wasi:sockets/ip-name-lookup@{WASI}"))?
        .func_wrap(
            "resolve-addresses",
            |mut store: StoreContextMut<'_, GuestState>,
             (network, name): (Resource<Network>, String)|
             -> Wit<Resource<ResolveAddressStream>> {
                let state = store.data_mut();
                if !state.policy().check_name(&name) {
                    return Ok((Err(ErrorCode::AccessDenied),));
                }
                wit(state.sockets().resolve_addresses(network, name))
            },
        )?;
    Ok(())
}

/// Split wasmtime-wasi's error into a trap or the WIT error code.
fn wit<T>(result: Result<T, SocketError>) -> Wit<T> {
    match result {
        Ok(v) => Ok((Ok(v),)),
        Err(e) => Ok((Err(e.downcast()?),)),
    }
}
