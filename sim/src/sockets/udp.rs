//! `wasi:sockets/udp` and `udp-create-socket` on the simulated network,
//! mirroring wasmtime-wasi 48's checks and their order (its
//! `p2/host/udp.rs` and `sockets/udp.rs`); the network's part is
//! `crate::net::udp`.

use std::future::poll_fn;
use std::net::SocketAddr;

use wasmtime::component::Resource;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi_io::poll::{DynPollable, Pollable, subscribe};

use super::addr::{destination, family, from_std, to_std, valid_family, valid_remote};
use super::{Network, SimCtx, SimView, Transport};
use crate::bindings::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress};
use crate::bindings::sockets::{udp, udp_create_socket};
use crate::net::Node;

/// Most datagrams one `receive` returns and one `check-send` permits.
const MAX_DATAGRAMS: usize = 16;

/// `receive` stops once this many bytes are read (wasmtime-wasi's
/// `MAX_READ_SIZE_ALLOC`).
const MAX_READ: usize = 64 * 1024;

/// A WIT result inside a trap-or-value result.
type Wit<T> = wasmtime::Result<Result<T, ErrorCode>>;

/// The `udp-socket` resource.
pub struct UdpSocket {
    id: u64,
    node: Node,
    ipv6: bool,
    /// Between `start-bind` and `finish-bind`.
    binding: bool,
}

/// The `incoming-datagram-stream` resource.
pub struct IncomingDatagramStream {
    id: u64,
    node: Node,
    /// The peer when the stream was made: others' datagrams are discarded.
    connected: Option<SocketAddr>,
}

/// The `outgoing-datagram-stream` resource.
pub struct OutgoingDatagramStream {
    id: u64,
    node: Node,
    ipv6: bool,
    connected: Option<SocketAddr>,
    /// Datagrams the last `check-send` permitted.
    permits: usize,
}

impl<T: SimView> udp_create_socket::Host for SimCtx<'_, T> {
    fn create_udp_socket(&mut self, family: IpAddressFamily) -> Wit<Resource<UdpSocket>> {
        if let Err(code) = self.0.may_create(Transport::Udp) {
            return Ok(Err(code));
        }
        let node = self.0.node().clone();
        let ipv6 = matches!(family, IpAddressFamily::Ipv6);
        let id = node.handle.shared.core().udp_open(node.index, ipv6);
        let socket = UdpSocket {
            id,
            node,
            ipv6,
            binding: false,
        };
        Ok(Ok(self.0.table().push(socket)?))
    }
}

impl<T: SimView> udp::Host for SimCtx<'_, T> {}

impl<T: SimView> udp::HostUdpSocket for SimCtx<'_, T> {
    fn start_bind(
        &mut self,
        this: Resource<UdpSocket>,
        network: Resource<Network>,
        local: IpSocketAddress,
    ) -> Wit<()> {
        self.0.table().get(&network)?;
        let addr = to_std(local);
        let s = self.0.table().get(&this)?;
        let (id, ipv6, node) = (s.id, s.ipv6, s.node.clone());
        if s.binding {
            return Ok(Err(ErrorCode::ConcurrencyConflict));
        }
        if node
            .handle
            .shared
            .core()
            .udp(id)
            .is_ok_and(|s| s.bound.is_some())
        {
            return Ok(Err(ErrorCode::InvalidState));
        }
        if !valid_family(addr.ip(), ipv6) {
            return Ok(Err(ErrorCode::InvalidArgument));
        }
        if !self.0.allow(addr, SocketAddrUse::UdpBind) {
            return Ok(Err(ErrorCode::AccessDenied));
        }
        if let Err(code) = node.handle.shared.core().udp_bind(id, addr) {
            return Ok(Err(code));
        }
        self.0.table().get_mut(&this)?.binding = true;
        Ok(Ok(()))
    }

    fn finish_bind(&mut self, this: Resource<UdpSocket>) -> Wit<()> {
        let s = self.0.table().get_mut(&this)?;
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
            .0
            .table()
            .iter_children(&this)?
            .any(|c| c.is::<IncomingDatagramStream>() || c.is::<OutgoingDatagramStream>());
        if streams {
            wasmtime::bail!("UDP streams not dropped yet");
        }
        let s = self.0.table().get(&this)?;
        let (id, ipv6, node) = (s.id, s.ipv6, s.node.clone());
        let core = || node.handle.shared.core();
        if core().udp(id).is_ok_and(|s| s.bound.is_none()) {
            // In WASI 0.2, a UDP socket must be bound before `stream`.
            return Ok(Err(ErrorCode::InvalidState));
        }
        if let Some(remote) = remote.map(to_std) {
            if !valid_family(remote.ip(), ipv6) || !valid_remote(remote) {
                return Ok(Err(ErrorCode::InvalidArgument));
            }
            if !self.0.allow(remote, SocketAddrUse::UdpSend)
                || !self.0.allow(remote, SocketAddrUse::UdpReceive)
            {
                return Ok(Err(ErrorCode::AccessDenied));
            }
            if let Err(code) = core().udp_connect(id, remote) {
                return Ok(Err(code));
            }
        } else if core().udp(id).is_ok_and(|s| s.remote.is_some())
            && let Err(code) = core().udp_disconnect(id)
        {
            return Ok(Err(code));
        }
        let connected = core().udp(id).ok().and_then(|s| s.remote);
        let incoming = IncomingDatagramStream {
            id,
            node: node.clone(),
            connected,
        };
        let outgoing = OutgoingDatagramStream {
            id,
            node,
            ipv6,
            connected,
            permits: 0,
        };
        let table = self.0.table();
        Ok(Ok((
            table.push_child(incoming, &this)?,
            table.push_child(outgoing, &this)?,
        )))
    }

    fn local_address(&mut self, this: Resource<UdpSocket>) -> Wit<IpSocketAddress> {
        let s = self.0.table().get(&this)?;
        Ok(s.node.handle.shared.core().udp_local(s.id).map(from_std))
    }

    fn remote_address(&mut self, this: Resource<UdpSocket>) -> Wit<IpSocketAddress> {
        let s = self.0.table().get(&this)?;
        let mut core = s.node.handle.shared.core();
        let remote = core
            .udp(s.id)
            .and_then(|s| s.remote.ok_or(ErrorCode::InvalidState));
        Ok(remote.map(from_std))
    }

    fn address_family(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<IpAddressFamily> {
        Ok(family(self.0.table().get(&this)?.ipv6))
    }

    fn unicast_hop_limit(&mut self, this: Resource<UdpSocket>) -> Wit<u8> {
        self.option(this, |s| s.hop_limit)
    }

    fn set_unicast_hop_limit(&mut self, this: Resource<UdpSocket>, value: u8) -> Wit<()> {
        self.set_option(this, value == 0, |s| s.hop_limit = value)
    }

    fn receive_buffer_size(&mut self, this: Resource<UdpSocket>) -> Wit<u64> {
        self.option(this, |s| s.receive_buffer)
    }

    fn set_receive_buffer_size(&mut self, this: Resource<UdpSocket>, value: u64) -> Wit<()> {
        self.set_option(this, value == 0, |s| s.receive_buffer = buffer(value))
    }

    fn send_buffer_size(&mut self, this: Resource<UdpSocket>) -> Wit<u64> {
        self.option(this, |s| s.send_buffer)
    }

    fn set_send_buffer_size(&mut self, this: Resource<UdpSocket>, value: u64) -> Wit<()> {
        self.set_option(this, value == 0, |s| s.send_buffer = buffer(value))
    }

    fn subscribe(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.0.table(), this)
    }

    fn drop(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<()> {
        let s = self.0.table().delete(this)?;
        s.node.handle.shared.core().udp_close(s.id);
        self.0.closed(Transport::Udp);
        Ok(())
    }
}

/// A buffer size as Linux keeps it: at most `net.core.rmem_max` /
/// `wmem_max` (212 992 by default).
fn buffer(value: u64) -> u64 {
    value.min(212_992)
}

impl<T: SimView> SimCtx<'_, T> {
    fn option<V>(
        &mut self,
        this: Resource<UdpSocket>,
        get: impl FnOnce(&crate::net::udp::UdpState) -> V,
    ) -> Wit<V> {
        let s = self.0.table().get(&this)?;
        Ok(s.node.handle.shared.core().udp(s.id).map(|s| get(s)))
    }

    /// Sets an option; `invalid` (a 0 where the WIT forbids it) gives
    /// `invalid-argument` and changes nothing.
    fn set_option(
        &mut self,
        this: Resource<UdpSocket>,
        invalid: bool,
        set: impl FnOnce(&mut crate::net::udp::UdpState),
    ) -> Wit<()> {
        if invalid {
            return Ok(Err(ErrorCode::InvalidArgument));
        }
        let s = self.0.table().get(&this)?;
        Ok(s.node.handle.shared.core().udp(s.id).map(set))
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for UdpSocket {
    async fn ready(&mut self) {
        // No socket-level operation waits: ready at once, as in wasmtime-wasi.
    }
}

impl<T: SimView> udp::HostIncomingDatagramStream for SimCtx<'_, T> {
    fn receive(
        &mut self,
        this: Resource<IncomingDatagramStream>,
        max_results: u64,
    ) -> Wit<Vec<udp::IncomingDatagram>> {
        let s = self.0.table().get(&this)?;
        let (id, connected, handle) = (s.id, s.connected, s.node.handle.clone());
        let max = usize::try_from(max_results)
            .unwrap_or(usize::MAX)
            .min(MAX_DATAGRAMS);
        let mut datagrams = Vec::new();
        let mut sum = 0;
        while datagrams.len() < max && sum < MAX_READ {
            let view = &mut *self.0;
            let mut allow = |src| view.allow(src, SocketAddrUse::UdpReceive);
            match handle.shared.core().udp_recv(id, connected, &mut allow) {
                Ok(None) => break,
                Ok(Some((data, src))) => {
                    sum += 1 + data.len();
                    datagrams.push(udp::IncomingDatagram {
                        data,
                        remote_address: from_std(src),
                    });
                }
                Err(_) if !datagrams.is_empty() => break,
                Err(code) => return Ok(Err(code)),
            }
        }
        Ok(Ok(datagrams))
    }

    fn subscribe(
        &mut self,
        this: Resource<IncomingDatagramStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.0.table(), this)
    }

    fn drop(&mut self, this: Resource<IncomingDatagramStream>) -> wasmtime::Result<()> {
        self.0.table().delete(this)?;
        Ok(())
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for IncomingDatagramStream {
    async fn ready(&mut self) {
        let (id, shared) = (self.id, self.node.handle.shared.clone());
        poll_fn(|cx| shared.core().udp_poll_recv(id, cx)).await
    }
}

impl<T: SimView> udp::HostOutgoingDatagramStream for SimCtx<'_, T> {
    fn check_send(&mut self, this: Resource<OutgoingDatagramStream>) -> Wit<u64> {
        // The simulated network never pushes back: always the most.
        self.0.table().get_mut(&this)?.permits = MAX_DATAGRAMS;
        Ok(Ok(MAX_DATAGRAMS as u64))
    }

    fn send(
        &mut self,
        this: Resource<OutgoingDatagramStream>,
        datagrams: Vec<udp::OutgoingDatagram>,
    ) -> Wit<u64> {
        if datagrams.is_empty() {
            return Ok(Ok(0));
        }
        let s = self.0.table().get_mut(&this)?;
        if datagrams.len() > s.permits {
            wasmtime::bail!("unpermitted: argument exceeds permitted size");
        }
        // Each `send` must be permitted by a preceding `check-send`.
        s.permits = 0;
        let (id, ipv6, connected, node) = (s.id, s.ipv6, s.connected, s.node.clone());
        let mut count = 0;
        for datagram in datagrams {
            let remote = datagram.remote_address.map(to_std);
            match self.send_one(&node, id, ipv6, connected, datagram.data, remote) {
                Ok(()) => count += 1,
                // "If at least one datagram has been sent successfully, this
                // function never returns an error."
                Err(_) if count > 0 => break,
                Err(code) => return Ok(Err(code)),
            }
        }
        Ok(Ok(count))
    }

    fn subscribe(
        &mut self,
        this: Resource<OutgoingDatagramStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.0.table(), this)
    }

    fn drop(&mut self, this: Resource<OutgoingDatagramStream>) -> wasmtime::Result<()> {
        self.0.table().delete(this)?;
        Ok(())
    }
}

impl<T: SimView> SimCtx<'_, T> {
    /// One datagram of `send`, checked in wasmtime-wasi's order: size,
    /// address, grant.
    fn send_one(
        &mut self,
        node: &Node,
        id: u64,
        ipv6: bool,
        connected: Option<SocketAddr>,
        data: Vec<u8>,
        remote: Option<SocketAddr>,
    ) -> Result<(), ErrorCode> {
        let dst = destination(data.len(), remote, connected, ipv6)?;
        if !self.0.allow(dst, SocketAddrUse::UdpSend) {
            return Err(ErrorCode::AccessDenied);
        }
        node.handle.shared.core().udp_send(id, data, dst)
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for OutgoingDatagramStream {
    async fn ready(&mut self) {
        // Sending never waits on the simulated network.
    }
}
