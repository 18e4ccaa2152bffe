//! A UDP socket for Rust code running inside the simulation (a test's
//! peer, a host-side fixture): the same network and event log as a
//! guest's sockets, without a guest's grants.

use std::future::poll_fn;
use std::net::SocketAddr;

use super::Node;
use crate::bindings::sockets::network::ErrorCode;

/// A UDP socket on a [`Node`], bound at creation; closed when dropped.
pub struct UdpSocket {
    node: Node,
    id: u64,
}

impl Node {
    /// `socket` + `bind`: a UDP socket on this node bound to `addr` (port 0:
    /// an ephemeral port drawn from the seed). Errors as a guest's
    /// `start-bind` would give them: `address-in-use`,
    /// `address-not-bindable` (not this node's address).
    pub fn udp_bind(&self, addr: SocketAddr) -> Result<UdpSocket, ErrorCode> {
        let mut core = self.handle.shared.core();
        let id = core.udp_open(self.index, addr.is_ipv6());
        if let Err(code) = core.udp_bind(id, addr) {
            core.udp_close(id);
            return Err(code);
        }
        Ok(UdpSocket {
            node: self.clone(),
            id,
        })
    }
}

impl UdpSocket {
    /// Its local address (the route's source once connected, if bound to
    /// the wildcard).
    pub fn local_addr(&self) -> Result<SocketAddr, ErrorCode> {
        self.node.handle.shared.core().udp_local(self.id)
    }

    /// `connect`: only datagrams from `remote` are received from now on.
    pub fn connect(&self, remote: SocketAddr) -> Result<(), ErrorCode> {
        self.node.handle.shared.core().udp_connect(self.id, remote)
    }

    /// `sendto`: hands `data` to the network towards `dst`.
    pub fn send_to(&self, data: &[u8], dst: SocketAddr) -> Result<(), ErrorCode> {
        let mut core = self.node.handle.shared.core();
        core.udp_send(self.id, data.to_vec(), dst)
    }

    /// `recvfrom` without waiting: `None` when the queue is empty.
    pub fn try_recv_from(&self) -> Result<Option<(Vec<u8>, SocketAddr)>, ErrorCode> {
        let mut core = self.node.handle.shared.core();
        let connected = core.udp(self.id)?.remote;
        core.udp_recv(self.id, connected, &mut |_| true)
    }

    /// `recvfrom`: waits (in simulated time) for the next datagram.
    pub async fn recv_from(&self) -> Result<(Vec<u8>, SocketAddr), ErrorCode> {
        loop {
            if let Some(datagram) = self.try_recv_from()? {
                return Ok(datagram);
            }
            poll_fn(|cx| self.node.handle.shared.core().udp_poll_recv(self.id, cx)).await;
        }
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        self.node.handle.shared.core().udp_close(self.id);
    }
}
