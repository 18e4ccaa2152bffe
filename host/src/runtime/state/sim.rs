//! A guest's store seen by the simulated network ([`SimView`]): its node,
//! and the same grants, refusals, socket and connection limits as on the
//! real network.

use std::net::SocketAddr;

use socklab_sim::{ErrorCode, Node, SimView, Transport as SimTransport};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::bindings::sockets::network::ErrorCode as WasiError;
use wasmtime_wasi::sockets::SocketAddrUse;

use super::GuestState;
use crate::limits::LimitKind;
use crate::roles::Transport;

impl SimView for GuestState {
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    fn node(&self) -> &Node {
        self.node
            .as_ref()
            .expect("a guest on the simulated network has a node (Sandbox::node)")
    }

    fn allow(&mut self, addr: SocketAddr, use_: SocketAddrUse) -> bool {
        self.policy.check(use_.into(), addr)
    }

    fn allow_name(&mut self, name: &str) -> bool {
        self.policy.check_name(name)
    }

    /// The other transport refused and audited as on the real network
    /// ([`GuestState::may_create`]); `max-sockets` counted here, since the
    /// simulation's sockets are not wasmtime-wasi's table entries.
    fn may_create(&mut self, transport: SimTransport) -> Result<(), ErrorCode> {
        let transport = match transport {
            SimTransport::Tcp => Transport::Tcp,
            SimTransport::Udp => Transport::Udp,
        };
        if let Err(refused) = self.refuse_other_transport(transport) {
            return Err(match refused {
                WasiError::AccessDenied => ErrorCode::AccessDenied,
                _ => ErrorCode::Unknown,
            });
        }
        if self.sim_sockets >= self.meter.limits.max_sockets as usize {
            self.meter.hit(LimitKind::Sockets, false);
            return Err(ErrorCode::NewSocketLimit);
        }
        self.sim_sockets += 1;
        Ok(())
    }

    fn closed(&mut self, _transport: SimTransport) {
        self.sim_sockets = self.sim_sockets.saturating_sub(1);
    }

    /// As the real path's `accept` override: past `max-sockets` the
    /// connection is refused with `new-socket-limit`, past
    /// `max-connections` with `would-block`, each recorded as a hit.
    fn may_accept(&mut self) -> Result<(), ErrorCode> {
        if self.sim_sockets >= self.meter.limits.max_sockets as usize {
            self.meter.hit(LimitKind::Sockets, false);
            return Err(ErrorCode::NewSocketLimit);
        }
        if self.sim_connections >= self.meter.limits.max_connections as usize {
            self.meter.hit(LimitKind::Connections, false);
            return Err(ErrorCode::WouldBlock);
        }
        self.sim_sockets += 1;
        self.sim_connections += 1;
        Ok(())
    }

    fn connection_closed(&mut self) {
        self.sim_connections = self.sim_connections.saturating_sub(1);
    }
}
