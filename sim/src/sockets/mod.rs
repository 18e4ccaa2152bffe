//! The seven `wasi:sockets` 0.2.12 interfaces on the simulated network, for
//! a guest on one [`Node`]: what a host implements ([`SimView`]) and what it
//! calls ([`add_to_linker`]).
//!
//! - `udp`: UDP sockets and their datagram streams, checked as
//!   wasmtime-wasi 48 checks them.
//! - `tcp`: TCP sockets and their streams over `crate::net::tcp`
//!   (smoltcp), with wasmtime-wasi 48's states, errors and grant checks.
//! - `lookup`: `resolve-addresses` over the nodes' names.
//!
//! A component importing an older 0.2.x version of these interfaces is
//! served too: wasmtime's linker matches semver-compatible imports.

pub mod addr;
pub(crate) mod lookup;
pub(crate) mod tcp;
pub(crate) mod udp;

use std::marker::PhantomData;
use std::net::SocketAddr;

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::sockets::SocketAddrUse;

use crate::bindings::sockets as wit;
use crate::net::Node;

pub use wit::network::{ErrorCode, IpAddressFamily};

/// What the simulated sockets need from a guest's store.
pub trait SimView: Send {
    /// The guest's resource table.
    fn table(&mut self) -> &mut ResourceTable;
    /// The node the guest runs on.
    fn node(&self) -> &Node;
    /// The host's grant check: whether the guest may use `addr` for `use_`.
    /// Called exactly where wasmtime-wasi 48 calls its `socket_addr_check`
    /// for UDP: `start-bind` (`udp-bind`), `stream` with a remote address
    /// (`udp-send` then `udp-receive`), each outgoing datagram (`udp-send`;
    /// refused: `access-denied`), each incoming datagram as it is read
    /// (`udp-receive`; refused: dropped silently); and for TCP:
    /// `start-bind` (`tcp-bind`), `start-connect` (`tcp-bind` on the
    /// wildcard when unbound, then `tcp-connect`), `start-listen`
    /// (`tcp-listen` on the bound address), each connection `accept` takes
    /// (`tcp-accept` on the peer; refused: reset, never seen).
    fn allow(&mut self, addr: SocketAddr, use_: SocketAddrUse) -> bool;
    /// Whether the guest may look `name` up (`access-denied` otherwise).
    fn allow_name(&mut self, name: &str) -> bool;
    /// Whether the guest may create one more socket of `transport`; the
    /// error is returned to the guest as is.
    fn may_create(&mut self, transport: Transport) -> Result<(), ErrorCode>;
    /// A socket of `transport` the guest created (or accepted) was closed.
    fn closed(&mut self, transport: Transport) {
        let _ = transport;
    }
    /// Whether the guest may have the connection `accept` just took: one
    /// more socket and one more accepted connection (the real host's
    /// `max-sockets` and `max-connections`). Refused: the connection is
    /// reset before the guest sees it and `accept` returns the error.
    /// Default: always.
    fn may_accept(&mut self) -> Result<(), ErrorCode> {
        Ok(())
    }
    /// A connection `may_accept` let through was closed.
    fn connection_closed(&mut self) {}
}

/// Which kind of socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `create-tcp-socket`.
    Tcp,
    /// `create-udp-socket`.
    Udp,
}

/// The `network` resource: the capability to use the guest's node.
pub struct Network {
    _private: (),
}

/// The host side of the bindings (sockets and clocks): a guest's store,
/// seen through [`SimView`].
pub struct SimCtx<'a, T>(pub(crate) &'a mut T);

/// [`HasData`] for [`SimCtx`].
pub(crate) struct Sockets<T>(PhantomData<fn() -> T>);

impl<T: SimView + 'static> HasData for Sockets<T> {
    type Data<'a> = SimCtx<'a, T>;
}

/// Links the seven `wasi:sockets` interfaces of the simulated network.
pub fn add_to_linker<T: SimView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    let get = view::<T>;
    let options = wit::network::LinkOptions::default();
    wit::network::add_to_linker::<T, Sockets<T>>(linker, &options, get)?;
    wit::instance_network::add_to_linker::<T, Sockets<T>>(linker, get)?;
    wit::udp::add_to_linker::<T, Sockets<T>>(linker, get)?;
    wit::udp_create_socket::add_to_linker::<T, Sockets<T>>(linker, get)?;
    wit::tcp::add_to_linker::<T, Sockets<T>>(linker, get)?;
    wit::tcp_create_socket::add_to_linker::<T, Sockets<T>>(linker, get)?;
    wit::ip_name_lookup::add_to_linker::<T, Sockets<T>>(linker, get)?;
    Ok(())
}

/// The getter every `add_to_linker` takes.
pub(crate) fn view<T: SimView>(t: &mut T) -> SimCtx<'_, T> {
    SimCtx(t)
}

impl<T: SimView> wit::network::Host for SimCtx<'_, T> {
    /// The simulated network never puts its error codes in a `wasi:io`
    /// error (its streams are datagram streams): always `none`.
    fn network_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        let err = self.0.table().get(&err)?;
        Ok(err.downcast_ref::<ErrorCode>().copied())
    }
}

impl<T: SimView> wit::network::HostNetwork for SimCtx<'_, T> {
    fn drop(&mut self, this: Resource<Network>) -> wasmtime::Result<()> {
        self.0.table().delete(this)?;
        Ok(())
    }
}

impl<T: SimView> wit::instance_network::Host for SimCtx<'_, T> {
    fn instance_network(&mut self) -> wasmtime::Result<Resource<Network>> {
        Ok(self.0.table().push(Network { _private: () })?)
    }
}

/// Converts between this crate's `error-code` and wasmtime-wasi's (the same
/// WIT enum, generated twice), both ways.
macro_rules! same_codes {
    ($($v:ident),* $(,)?) => {
        impl From<wasmtime_wasi::p2::bindings::sockets::network::ErrorCode> for ErrorCode {
            fn from(code: wasmtime_wasi::p2::bindings::sockets::network::ErrorCode) -> Self {
                use wasmtime_wasi::p2::bindings::sockets::network::ErrorCode as W;
                match code { $(W::$v => ErrorCode::$v,)* }
            }
        }
        impl From<ErrorCode> for wasmtime_wasi::p2::bindings::sockets::network::ErrorCode {
            fn from(code: ErrorCode) -> Self {
                use wasmtime_wasi::p2::bindings::sockets::network::ErrorCode as W;
                match code { $(ErrorCode::$v => W::$v,)* }
            }
        }
    };
}

same_codes!(
    Unknown,
    AccessDenied,
    NotSupported,
    InvalidArgument,
    OutOfMemory,
    Timeout,
    ConcurrencyConflict,
    NotInProgress,
    WouldBlock,
    InvalidState,
    NewSocketLimit,
    AddressNotBindable,
    AddressInUse,
    RemoteUnreachable,
    ConnectionRefused,
    ConnectionReset,
    ConnectionAborted,
    DatagramTooLarge,
    NameUnresolvable,
    TemporaryResolverFailure,
    PermanentResolverFailure,
);
