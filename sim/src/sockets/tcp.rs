//! `wasi:sockets/tcp` and `tcp-create-socket` until TCP is simulated (part
//! 2 of the simulated network): `create-tcp-socket` answers
//! `not-supported`, once the host's [`SimView::may_create`] has had its say,
//! so no `tcp-socket` resource ever exists. Every method of one is then
//! unreachable; each still returns (a trap), none panics.

use wasmtime::component::Resource;

use super::{Network, SimCtx, SimView, Transport};
use crate::bindings::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress};
use crate::bindings::sockets::{tcp, tcp_create_socket};

/// The `tcp-socket` resource, of which there is never one.
pub struct TcpSocket {
    _never: std::convert::Infallible,
}

type Wit<T> = wasmtime::Result<Result<T, ErrorCode>>;

impl<T: SimView> tcp_create_socket::Host for SimCtx<'_, T> {
    fn create_tcp_socket(&mut self, _family: IpAddressFamily) -> Wit<Resource<TcpSocket>> {
        if let Err(code) = self.0.may_create(Transport::Tcp) {
            return Ok(Err(code));
        }
        Ok(Err(ErrorCode::NotSupported))
    }
}

impl<T: SimView> tcp::Host for SimCtx<'_, T> {}

/// What every method of a `tcp-socket` returns.
fn none<V>() -> wasmtime::Result<V> {
    wasmtime::bail!("socklab_sim: TCP is not simulated yet, and no tcp-socket can exist")
}

type S = Resource<TcpSocket>;

impl<T: SimView> tcp::HostTcpSocket for SimCtx<'_, T> {
    fn start_bind(&mut self, _: S, _: Resource<Network>, _: IpSocketAddress) -> Wit<()> {
        none()
    }
    fn finish_bind(&mut self, _: S) -> Wit<()> {
        none()
    }
    fn start_connect(&mut self, _: S, _: Resource<Network>, _: IpSocketAddress) -> Wit<()> {
        none()
    }
    fn finish_connect(
        &mut self,
        _: S,
    ) -> Wit<(Resource<tcp::InputStream>, Resource<tcp::OutputStream>)> {
        none()
    }
    fn start_listen(&mut self, _: S) -> Wit<()> {
        none()
    }
    fn finish_listen(&mut self, _: S) -> Wit<()> {
        none()
    }
    fn accept(
        &mut self,
        _: S,
    ) -> Wit<(S, Resource<tcp::InputStream>, Resource<tcp::OutputStream>)> {
        none()
    }
    fn local_address(&mut self, _: S) -> Wit<IpSocketAddress> {
        none()
    }
    fn remote_address(&mut self, _: S) -> Wit<IpSocketAddress> {
        none()
    }
    fn is_listening(&mut self, _: S) -> wasmtime::Result<bool> {
        none()
    }
    fn address_family(&mut self, _: S) -> wasmtime::Result<IpAddressFamily> {
        none()
    }
    fn set_listen_backlog_size(&mut self, _: S, _: u64) -> Wit<()> {
        none()
    }
    fn keep_alive_enabled(&mut self, _: S) -> Wit<bool> {
        none()
    }
    fn set_keep_alive_enabled(&mut self, _: S, _: bool) -> Wit<()> {
        none()
    }
    fn keep_alive_idle_time(&mut self, _: S) -> Wit<tcp::Duration> {
        none()
    }
    fn set_keep_alive_idle_time(&mut self, _: S, _: tcp::Duration) -> Wit<()> {
        none()
    }
    fn keep_alive_interval(&mut self, _: S) -> Wit<tcp::Duration> {
        none()
    }
    fn set_keep_alive_interval(&mut self, _: S, _: tcp::Duration) -> Wit<()> {
        none()
    }
    fn keep_alive_count(&mut self, _: S) -> Wit<u32> {
        none()
    }
    fn set_keep_alive_count(&mut self, _: S, _: u32) -> Wit<()> {
        none()
    }
    fn hop_limit(&mut self, _: S) -> Wit<u8> {
        none()
    }
    fn set_hop_limit(&mut self, _: S, _: u8) -> Wit<()> {
        none()
    }
    fn receive_buffer_size(&mut self, _: S) -> Wit<u64> {
        none()
    }
    fn set_receive_buffer_size(&mut self, _: S, _: u64) -> Wit<()> {
        none()
    }
    fn send_buffer_size(&mut self, _: S) -> Wit<u64> {
        none()
    }
    fn set_send_buffer_size(&mut self, _: S, _: u64) -> Wit<()> {
        none()
    }
    fn subscribe(&mut self, _: S) -> wasmtime::Result<Resource<tcp::Pollable>> {
        none()
    }
    fn shutdown(&mut self, _: S, _: tcp::ShutdownType) -> Wit<()> {
        none()
    }
    fn drop(&mut self, this: S) -> wasmtime::Result<()> {
        self.0.table().delete(this)?;
        Ok(())
    }
}
