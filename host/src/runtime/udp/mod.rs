//! socklab's own `wasi:sockets/udp` and `udp-create-socket` (0.2.12) on the
//! host's network: tokio's `UdpSocket` under wasmtime-wasi 48's state
//! machine, error codes and grant checks, made for speed.
//!
//! wasmtime-wasi serves each 0.2 `receive` with a fresh zeroed 64 KiB
//! buffer and spawns a task whenever a receive or send is not ready at
//! once; its UDP types are crate-private, so socklab cannot mend them from
//! outside. Here each incoming stream keeps one buffer for its life,
//! `receive` reads with `try_recv_from` until the kernel has no more, and
//! `send` writes with the `sendto` system call at once: no task is spawned
//! on the path of a datagram. A datagram the kernel cannot take yet is
//! kept and sent when the stream's pollable is next waited on.
//!
//! Grants: the guest's [`Policy`](crate::grants::Policy) is asked exactly
//! where wasmtime-wasi asks its `socket_addr_check`, in the same order, so
//! the decisions, the audit lines (silent drops of refused incoming
//! datagrams included) and the limits are the same.
//!
//! - this file: the bindings, [`add_to_linker`], the socket resource;
//! - `socket`: the operating system's side (creating, binding, connecting,
//!   options), through socket2;
//! - `streams`: the incoming and outgoing datagram streams.
//!
//! `--udp-sockets wasmtime-wasi` links wasmtime-wasi's own UDP instead, for
//! comparison (`link::real_wasmtime_udp`).
//!
//! # TODO
//! - The state machine's checks (`stream`, a datagram's destination) are
//!   the simulated network's UDP's again, over other types: a trait over
//!   both backends would keep one copy.
//! - WASI 0.3 guests' UDP is still wasmtime-wasi's `p3`.
//! - One round trip is still 0.84-0.87x native's (target 0.90x), with
//!   fewer system calls than native's: what is left is four host calls per
//!   datagram and the CPU meter's clock reads; docs/bench.md has the
//!   profile.

mod socket;
mod streams;

use std::net::SocketAddr;
use std::sync::Arc;

use socklab_sim::sockets::addr;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::sockets::network::{
    ErrorCode, IpAddressFamily, IpSocketAddress, Network,
};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi_io::poll::{DynPollable, Pollable, subscribe};

use super::state::{GuestState, SocketKind};
use crate::roles::Transport;

pub use streams::{IncomingDatagramStream, OutgoingDatagramStream};

// The generated items carry the WIT's doc comments.
#[allow(missing_docs)]
mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        inline: "
            package socklab:real-udp;
            world udp {
                import wasi:sockets/udp@0.2.12;
                import wasi:sockets/udp-create-socket@0.2.12;
            }
        ",
        world: "socklab:real-udp/udp",
        imports: { default: trappable },
        require_store_data_send: true,
        with: {
            "wasi:io": wasmtime_wasi_io::bindings::wasi::io,
            "wasi:sockets/network": wasmtime_wasi::p2::bindings::sockets::network,
            "wasi:sockets/udp.udp-socket": super::UdpSocket,
            "wasi:sockets/udp.incoming-datagram-stream": super::IncomingDatagramStream,
            "wasi:sockets/udp.outgoing-datagram-stream": super::OutgoingDatagramStream,
        },
    });
}

use generated::wasi::sockets::{udp, udp_create_socket};

/// A WIT result inside a trap-or-value result.
type Wit<T> = wasmtime::Result<Result<T, ErrorCode>>;

/// The `udp-socket` resource.
pub struct UdpSocket {
    /// The kernel's socket, registered with tokio; shared with its two
    /// streams (the table's children of this resource).
    socket: Arc<tokio::net::UdpSocket>,
    /// Its family, fixed at creation: which addresses it may use.
    ipv6: bool,
    /// Between `start-bind` and `finish-bind`.
    binding: bool,
    /// Once bound, a UDP socket never becomes unbound (cached, as
    /// wasmtime-wasi caches it, to spare a system call per datagram).
    bound: bool,
    /// The connected peer, if any.
    remote: Option<SocketAddr>,
}

impl UdpSocket {
    /// Whether the socket has a local address (explicitly or implicitly).
    fn is_bound(&mut self) -> bool {
        if !self.bound {
            self.bound = socket::is_bound(&self.socket, self.ipv6);
        }
        self.bound
    }
}

/// The store's data seen by these bindings.
pub struct RealUdp<'a>(&'a mut GuestState);

/// [`HasData`] for [`RealUdp`].
struct Udp;

impl HasData for Udp {
    type Data<'a> = RealUdp<'a>;
}

/// Link socklab's UDP interfaces (the other five `wasi:sockets` ones stay
/// wasmtime-wasi's: they share its `network` resource and error codes).
pub fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    let get = view;
    udp::add_to_linker::<GuestState, Udp>(linker, get)?;
    udp_create_socket::add_to_linker::<GuestState, Udp>(linker, get)
}

/// The getter every `add_to_linker` takes.
fn view(state: &mut GuestState) -> RealUdp<'_> {
    RealUdp(state)
}

impl RealUdp<'_> {
    /// The guest's resource table.
    fn table(&mut self) -> &mut ResourceTable {
        self.0.policy_and_table().1
    }

    /// The guest's grant check, as wasmtime-wasi's `socket_addr_check`.
    fn allow(&mut self, addr: SocketAddr, use_: SocketAddrUse) -> bool {
        self.0.policy().check(use_.into(), addr)
    }
}

impl udp_create_socket::Host for RealUdp<'_> {
    /// Refused for the other transport or past `max-sockets` (as socklab's
    /// override of wasmtime-wasi's), counted otherwise.
    fn create_udp_socket(&mut self, family: IpAddressFamily) -> Wit<Resource<UdpSocket>> {
        if let Err(code) = self.0.may_create(Transport::Udp) {
            return Ok(Err(code));
        }
        let ipv6 = matches!(family, IpAddressFamily::Ipv6);
        let socket = match socket::open(ipv6) {
            Ok(socket) => socket,
            Err(e) => return Ok(Err(socket::code(&e))),
        };
        let socket = UdpSocket {
            socket: Arc::new(socket),
            ipv6,
            binding: false,
            bound: false,
            remote: None,
        };
        let socket = self.table().push(socket)?;
        self.0.track_socket(SocketKind::Udp, socket.rep(), false);
        Ok(Ok(socket))
    }
}

impl udp::Host for RealUdp<'_> {}

impl udp::HostUdpSocket for RealUdp<'_> {
    fn start_bind(
        &mut self,
        this: Resource<UdpSocket>,
        network: Resource<Network>,
        local: IpSocketAddress,
    ) -> Wit<()> {
        // The network resource is the capability; it must be a live one.
        self.table().get(&network)?;
        let addr = SocketAddr::from(local);
        let s = self.table().get_mut(&this)?;
        if s.binding {
            return Ok(Err(ErrorCode::ConcurrencyConflict));
        }
        // wasmtime-wasi checks the socket is not shared with streams here;
        // before `stream` there are none.
        if s.is_bound() {
            return Ok(Err(ErrorCode::InvalidState));
        }
        if !addr::valid_family(addr.ip(), s.ipv6) {
            return Ok(Err(ErrorCode::InvalidArgument));
        }
        if !self.allow(addr, SocketAddrUse::UdpBind) {
            return Ok(Err(ErrorCode::AccessDenied));
        }
        let s = self.table().get_mut(&this)?;
        if let Err(code) = socket::bind(&s.socket, addr) {
            return Ok(Err(code));
        }
        s.binding = true;
        Ok(Ok(()))
    }

    fn finish_bind(&mut self, this: Resource<UdpSocket>) -> Wit<()> {
        let s = self.table().get_mut(&this)?;
        if !s.binding {
            return Ok(Err(ErrorCode::NotInProgress));
        }
        s.binding = false;
        Ok(Ok(()))
    }

    fn stream(
        &mut self,
        this: Resource<UdpSocket>,
        remote: Option<IpSocketAddress>,
    ) -> Wit<(
        Resource<IncomingDatagramStream>,
        Resource<OutgoingDatagramStream>,
    )> {
        let streams = self
            .table()
            .iter_children(&this)?
            .any(|c| c.is::<IncomingDatagramStream>() || c.is::<OutgoingDatagramStream>());
        if streams {
            wasmtime::bail!("UDP streams not dropped yet");
        }
        let s = self.table().get_mut(&this)?;
        if !s.is_bound() {
            // In WASI 0.2, a UDP socket must be bound before `stream`.
            return Ok(Err(ErrorCode::InvalidState));
        }
        if let Some(remote) = remote.map(SocketAddr::from) {
            if let Err(code) = self.connect(&this, remote)? {
                return Ok(Err(code));
            }
        } else if s.remote.is_some() {
            // Linux may give back a wildcard-bound socket's port on
            // disconnect; it stays bound all the same (`bound` is kept).
            let disconnected = socket::disconnect(&s.socket);
            s.remote = socket::peer(&s.socket, s.ipv6);
            if let Err(code) = disconnected {
                return Ok(Err(code));
            }
        }
        let s = self.table().get(&this)?;
        let incoming = IncomingDatagramStream::new(s.socket.clone(), s.remote);
        let outgoing = OutgoingDatagramStream::new(s.socket.clone(), s.ipv6, s.remote);
        let table = self.table();
        Ok(Ok((
            table.push_child(incoming, &this)?,
            table.push_child(outgoing, &this)?,
        )))
    }

    fn local_address(&mut self, this: Resource<UdpSocket>) -> Wit<IpSocketAddress> {
        let s = self.table().get_mut(&this)?;
        if !s.is_bound() {
            return Ok(Err(ErrorCode::InvalidState));
        }
        Ok(s.socket
            .local_addr()
            .map(IpSocketAddress::from)
            .map_err(|e| socket::code(&e)))
    }

    fn remote_address(&mut self, this: Resource<UdpSocket>) -> Wit<IpSocketAddress> {
        let s = self.table().get(&this)?;
        Ok(s.remote
            .map(IpSocketAddress::from)
            .ok_or(ErrorCode::InvalidState))
    }

    fn address_family(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<IpAddressFamily> {
        Ok(match self.table().get(&this)?.ipv6 {
            true => IpAddressFamily::Ipv6,
            false => IpAddressFamily::Ipv4,
        })
    }

    fn unicast_hop_limit(&mut self, this: Resource<UdpSocket>) -> Wit<u8> {
        let s = self.table().get(&this)?;
        Ok(socket::hop_limit(&s.socket, s.ipv6))
    }

    fn set_unicast_hop_limit(&mut self, this: Resource<UdpSocket>, value: u8) -> Wit<()> {
        let s = self.table().get(&this)?;
        Ok(socket::set_hop_limit(&s.socket, s.ipv6, value))
    }

    fn receive_buffer_size(&mut self, this: Resource<UdpSocket>) -> Wit<u64> {
        let s = self.table().get(&this)?;
        Ok(socket::buffer_size(&s.socket, socket::Buffer::Receive))
    }

    fn set_receive_buffer_size(&mut self, this: Resource<UdpSocket>, value: u64) -> Wit<()> {
        let s = self.table().get(&this)?;
        Ok(socket::set_buffer_size(
            &s.socket,
            socket::Buffer::Receive,
            value,
        ))
    }

    fn send_buffer_size(&mut self, this: Resource<UdpSocket>) -> Wit<u64> {
        let s = self.table().get(&this)?;
        Ok(socket::buffer_size(&s.socket, socket::Buffer::Send))
    }

    fn set_send_buffer_size(&mut self, this: Resource<UdpSocket>, value: u64) -> Wit<()> {
        let s = self.table().get(&this)?;
        Ok(socket::set_buffer_size(
            &s.socket,
            socket::Buffer::Send,
            value,
        ))
    }

    fn subscribe(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.table(), this)
    }

    fn drop(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<()> {
        self.table().delete(this)?;
        Ok(())
    }
}

impl RealUdp<'_> {
    /// `stream` with a remote address: checked in wasmtime-wasi's order
    /// (the address, then the grants: `udp-send`, `udp-receive`), then
    /// connected.
    fn connect(&mut self, this: &Resource<UdpSocket>, remote: SocketAddr) -> Wit<()> {
        let s = self.table().get(this)?;
        if !addr::valid_family(remote.ip(), s.ipv6) || !addr::valid_remote(remote) {
            return Ok(Err(ErrorCode::InvalidArgument));
        }
        // The socket is bound (`stream` checked), so no implicit bind is
        // checked here.
        if !self.allow(remote, SocketAddrUse::UdpSend)
            || !self.allow(remote, SocketAddrUse::UdpReceive)
        {
            return Ok(Err(ErrorCode::AccessDenied));
        }
        let s = self.table().get_mut(this)?;
        let connected = socket::connect(&s.socket, remote);
        s.remote = socket::peer(&s.socket, s.ipv6);
        Ok(connected)
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for UdpSocket {
    async fn ready(&mut self) {
        // No socket-level operation waits: ready at once, as in wasmtime-wasi.
    }
}
