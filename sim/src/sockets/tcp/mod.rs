//! `wasi:sockets/tcp` and `tcp-create-socket` on the simulated network,
//! mirroring wasmtime-wasi 48's state machine, checks and their order (its
//! `p2/host/tcp.rs` and `sockets/tcp.rs`); the network's part is
//! `crate::net::tcp`.
//!
//! - this file: `start-*`/`finish-*`, `accept`, addresses, `subscribe`,
//!   `shutdown`, `drop`;
//! - `socket`: the `tcp-socket` resource, its states and its pollable;
//! - `options`: keep-alive, hop limit, buffer sizes, backlog;
//! - `streams`: the connection's input and output streams.
//!
//! Grants are checked where wasmtime-wasi calls `socket_addr_check`:
//! `start-bind` (`tcp-bind`), `start-connect` (`tcp-bind` on the wildcard
//! when unbound, then `tcp-connect`; refused: `access-denied` from
//! `finish-connect`), `start-listen` (`tcp-listen` on the bound address),
//! `accept` (`tcp-accept` on the peer: a refused connection is reset and the
//! guest never sees it).

mod options;
mod socket;
mod streams;

use std::net::SocketAddr;
use std::task::Poll;

use wasmtime::component::Resource;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi_io::poll::{DynPollable, subscribe};
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream};

use super::addr::{family, from_std, to_std, valid_family, valid_remote};
use super::{Network, SimCtx, SimView, Transport};
use crate::bindings::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress};
use crate::bindings::sockets::{tcp, tcp_create_socket};
use crate::net::Node;
pub use socket::TcpSocket;
use socket::{Op, State, unicast, unspecified};
use streams::{TcpReader, TcpWriter};

type Wit<T> = wasmtime::Result<Result<T, ErrorCode>>;
type S = Resource<TcpSocket>;
type Streams = (Resource<DynInputStream>, Resource<DynOutputStream>);

impl<T: SimView> tcp_create_socket::Host for SimCtx<'_, T> {
    fn create_tcp_socket(&mut self, family: IpAddressFamily) -> Wit<Resource<TcpSocket>> {
        if let Err(code) = self.0.may_create(Transport::Tcp) {
            return Ok(Err(code));
        }
        let node = self.0.node().clone();
        let ipv6 = matches!(family, IpAddressFamily::Ipv6);
        let id = node.handle.shared.core().tcp_open(node.index, ipv6);
        let socket = TcpSocket::new(id, node, ipv6, State::Default);
        Ok(Ok(self.0.table().push(socket)?))
    }
}

impl<T: SimView> tcp::Host for SimCtx<'_, T> {}

impl<T: SimView> SimCtx<'_, T> {
    /// The connection's two streams, children of its socket.
    fn streams(&mut self, this: &S, id: u64, node: Node) -> wasmtime::Result<Streams> {
        let input: DynInputStream = Box::new(TcpReader::new(id, node.clone()));
        let output: DynOutputStream = Box::new(TcpWriter::new(id, node));
        let table = self.0.table();
        table.get_mut(this)?.streams = true;
        Ok((
            table.push_child(input, this)?,
            table.push_child(output, this)?,
        ))
    }

    /// `start-connect` past its synchronous checks: the grants, then the
    /// SYN; an error is kept for `finish-connect`.
    fn connect(&mut self, this: &S, remote: SocketAddr) -> wasmtime::Result<Option<ErrorCode>> {
        let s = self.0.table().get(this)?;
        let (id, ipv6, bound, node) = (s.id, s.ipv6, s.is_bound(), s.node.clone());
        if !bound && !self.0.allow(unspecified(ipv6), SocketAddrUse::TcpBind) {
            return Ok(Some(ErrorCode::AccessDenied));
        }
        if !self.0.allow(remote, SocketAddrUse::TcpConnect) {
            return Ok(Some(ErrorCode::AccessDenied));
        }
        Ok(node.handle.shared.core().tcp_connect(id, remote).err())
    }
}

impl<T: SimView> tcp::HostTcpSocket for SimCtx<'_, T> {
    fn start_bind(
        &mut self,
        this: S,
        network: Resource<Network>,
        local: IpSocketAddress,
    ) -> Wit<()> {
        self.0.table().get(&network)?;
        let addr = to_std(local);
        let s = self.0.table().get(&this)?;
        if s.op.is_some() {
            return Ok(Err(ErrorCode::ConcurrencyConflict));
        }
        if s.is_bound() || s.state != State::Default {
            return Ok(Err(ErrorCode::InvalidState));
        }
        if !unicast(addr.ip()) || !valid_family(addr.ip(), s.ipv6) {
            return Ok(Err(ErrorCode::InvalidArgument));
        }
        let (id, node) = (s.id, s.node.clone());
        if !self.0.allow(addr, SocketAddrUse::TcpBind) {
            return Ok(Err(ErrorCode::AccessDenied));
        }
        if let Err(code) = node.handle.shared.core().tcp_bind(id, addr) {
            return Ok(Err(code));
        }
        self.0.table().get_mut(&this)?.op = Some(Op::Bind);
        Ok(Ok(()))
    }

    fn finish_bind(&mut self, this: S) -> Wit<()> {
        let s = self.0.table().get_mut(&this)?;
        if s.op != Some(Op::Bind) {
            return Ok(Err(ErrorCode::NotInProgress));
        }
        s.op = None;
        Ok(Ok(()))
    }

    fn start_connect(
        &mut self,
        this: S,
        network: Resource<Network>,
        remote: IpSocketAddress,
    ) -> Wit<()> {
        self.0.table().get(&network)?;
        let addr = to_std(remote);
        let s = self.0.table().get(&this)?;
        if s.op.is_some() {
            return Ok(Err(ErrorCode::ConcurrencyConflict));
        }
        if s.state != State::Default {
            return Ok(Err(ErrorCode::InvalidState));
        }
        if !unicast(addr.ip()) || !valid_remote(addr) || !valid_family(addr.ip(), s.ipv6) {
            return Ok(Err(ErrorCode::InvalidArgument));
        }
        let early = self.connect(&this, addr)?;
        let s = self.0.table().get_mut(&this)?;
        s.state = State::Connecting(early);
        s.op = Some(Op::Connect);
        Ok(Ok(()))
    }

    fn finish_connect(&mut self, this: S) -> Wit<Streams> {
        let s = self.0.table().get_mut(&this)?;
        if s.op != Some(Op::Connect) {
            return Ok(Err(ErrorCode::NotInProgress));
        }
        let outcome = match s.state {
            State::Connecting(Some(code)) => Err(code),
            _ => match s.core().tcp_connected(s.id) {
                Poll::Pending => return Ok(Err(ErrorCode::WouldBlock)),
                Poll::Ready(outcome) => outcome,
            },
        };
        s.op = None;
        if let Err(code) = outcome {
            s.state = State::Closed(code);
            return Ok(Err(code));
        }
        s.state = State::Connected;
        let (id, node) = (s.id, s.node.clone());
        Ok(Ok(self.streams(&this, id, node)?))
    }

    fn start_listen(&mut self, this: S) -> Wit<()> {
        let s = self.0.table().get(&this)?;
        if s.op.is_some() {
            return Ok(Err(ErrorCode::ConcurrencyConflict));
        }
        if !s.is_bound() || s.state != State::Default {
            // In WASI 0.2, a socket must be bound before it listens.
            return Ok(Err(ErrorCode::InvalidState));
        }
        let (id, backlog, node) = (s.id, s.backlog, s.node.clone());
        let local = node.handle.shared.core().tcp_local(id);
        let local = match local {
            Ok(local) => local,
            Err(code) => return Ok(Err(code)),
        };
        if !self.0.allow(local, SocketAddrUse::TcpListen) {
            return Ok(Err(ErrorCode::AccessDenied));
        }
        if let Err(code) = node.handle.shared.core().tcp_listen(id, backlog) {
            return Ok(Err(code));
        }
        let s = self.0.table().get_mut(&this)?;
        s.state = State::Listening;
        s.op = Some(Op::Listen);
        Ok(Ok(()))
    }

    fn finish_listen(&mut self, this: S) -> Wit<()> {
        let s = self.0.table().get_mut(&this)?;
        if s.op != Some(Op::Listen) {
            return Ok(Err(ErrorCode::NotInProgress));
        }
        s.op = None;
        Ok(Ok(()))
    }

    fn accept(&mut self, this: S) -> Wit<(S, Resource<DynInputStream>, Resource<DynOutputStream>)> {
        let s = self.0.table().get(&this)?;
        if s.state != State::Listening {
            return Ok(Err(ErrorCode::InvalidState));
        }
        let (id, ipv6, node) = (s.id, s.ipv6, s.node.clone());
        let core = || node.handle.shared.core();
        loop {
            let new = match core().tcp_accept(id) {
                Ok(Some(new)) => new,
                Ok(None) => return Ok(Err(ErrorCode::WouldBlock)),
                Err(code) => return Ok(Err(code)),
            };
            let peer = core().tcp_peer(new);
            if !peer.is_ok_and(|peer| self.0.allow(peer, SocketAddrUse::TcpAccept)) {
                core().tcp_close(new, true);
                continue;
            }
            if let Err(code) = self.0.may_accept() {
                // As the real host does: the surplus connection is closed
                // (its client reads the end of the stream), not reset.
                core().tcp_close(new, false);
                return Ok(Err(code));
            }
            let mut socket = TcpSocket::new(new, node.clone(), ipv6, State::Connected);
            socket.accepted = true;
            let socket = self.0.table().push(socket)?;
            let (input, output) = self.streams(&socket, new, node.clone())?;
            return Ok(Ok((socket, input, output)));
        }
    }

    fn local_address(&mut self, this: S) -> Wit<IpSocketAddress> {
        let s = self.0.table().get(&this)?;
        if !s.is_bound() {
            return Ok(Err(ErrorCode::InvalidState));
        }
        Ok(match s.state {
            State::Connecting(_) => Err(ErrorCode::InvalidState),
            State::Closed(code) => Err(code),
            _ => s.core().tcp_local(s.id).map(from_std),
        })
    }

    fn remote_address(&mut self, this: S) -> Wit<IpSocketAddress> {
        let s = self.0.table().get(&this)?;
        Ok(match s.state {
            State::Connected => s.core().tcp_peer(s.id).map(from_std),
            State::Closed(code) => Err(code),
            _ => Err(ErrorCode::InvalidState),
        })
    }

    fn is_listening(&mut self, this: S) -> wasmtime::Result<bool> {
        Ok(self.0.table().get(&this)?.state == State::Listening)
    }

    fn address_family(&mut self, this: S) -> wasmtime::Result<IpAddressFamily> {
        Ok(family(self.0.table().get(&this)?.ipv6))
    }

    fn set_listen_backlog_size(&mut self, this: S, value: u64) -> Wit<()> {
        self.set_tcp_backlog(this, value)
    }
    fn keep_alive_enabled(&mut self, this: S) -> Wit<bool> {
        self.tcp_option(this, |o| o.keep_alive)
    }
    fn set_keep_alive_enabled(&mut self, this: S, value: bool) -> Wit<()> {
        self.set_tcp_option(this, false, |o| o.keep_alive = value)
    }
    fn keep_alive_idle_time(&mut self, this: S) -> Wit<tcp::Duration> {
        self.tcp_option(this, |o| o.keep_alive_idle)
    }
    fn set_keep_alive_idle_time(&mut self, this: S, value: tcp::Duration) -> Wit<()> {
        if value == 0 {
            return Ok(Err(ErrorCode::InvalidArgument)); // before the state check
        }
        let value = options::clamp_time(value);
        self.set_tcp_option(this, false, |o| o.keep_alive_idle = value)
    }
    fn keep_alive_interval(&mut self, this: S) -> Wit<tcp::Duration> {
        self.tcp_option(this, |o| o.keep_alive_interval)
    }
    fn set_keep_alive_interval(&mut self, this: S, value: tcp::Duration) -> Wit<()> {
        if value == 0 {
            return Ok(Err(ErrorCode::InvalidArgument)); // before the state check
        }
        let value = options::clamp_time(value);
        self.set_tcp_option(this, false, |o| o.keep_alive_interval = value)
    }
    fn keep_alive_count(&mut self, this: S) -> Wit<u32> {
        self.tcp_option(this, |o| o.keep_alive_count)
    }
    fn set_keep_alive_count(&mut self, this: S, value: u32) -> Wit<()> {
        if value == 0 {
            return Ok(Err(ErrorCode::InvalidArgument)); // before the state check
        }
        let count = value.clamp(1, i8::MAX as u32);
        self.set_tcp_option(this, false, |o| o.keep_alive_count = count)
    }
    fn hop_limit(&mut self, this: S) -> Wit<u8> {
        self.tcp_option(this, |o| o.hop_limit)
    }
    fn set_hop_limit(&mut self, this: S, value: u8) -> Wit<()> {
        self.set_tcp_option(this, value == 0, |o| o.hop_limit = value)
    }
    fn receive_buffer_size(&mut self, this: S) -> Wit<u64> {
        self.tcp_option(this, |o| o.receive_buffer)
    }
    fn set_receive_buffer_size(&mut self, this: S, value: u64) -> Wit<()> {
        let size = options::buffer(value);
        self.set_tcp_option(this, value == 0, |o| o.receive_buffer = size)
    }
    fn send_buffer_size(&mut self, this: S) -> Wit<u64> {
        self.tcp_option(this, |o| o.send_buffer)
    }
    fn set_send_buffer_size(&mut self, this: S, value: u64) -> Wit<()> {
        let size = options::buffer(value);
        self.set_tcp_option(this, value == 0, |o| o.send_buffer = size)
    }

    fn subscribe(&mut self, this: S) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.0.table(), this)
    }

    fn shutdown(&mut self, this: S, how: tcp::ShutdownType) -> Wit<()> {
        let s = self.0.table().get(&this)?;
        if !s.streams {
            return Ok(Err(ErrorCode::InvalidState));
        }
        let (read, write) = match how {
            tcp::ShutdownType::Receive => (true, false),
            tcp::ShutdownType::Send => (false, true),
            tcp::ShutdownType::Both => (true, true),
        };
        s.core().tcp_shutdown(s.id, read, write);
        Ok(Ok(()))
    }

    fn drop(&mut self, this: S) -> wasmtime::Result<()> {
        let s = self.0.table().delete(this)?;
        s.core().tcp_close(s.id, false);
        self.0.closed(Transport::Tcp);
        if s.accepted {
            self.0.connection_closed();
        }
        Ok(())
    }
}
