//! An exchange on the simulated network: each guest on a node of its own,
//! a server reached at its node's address, and a TCP guest's failure
//! explained (the simulated network has no TCP yet).

use std::net::IpAddr;

use super::{ClientSpec, ServerSpec};
use crate::roles::Transport;
use crate::runtime::tasks;
use crate::runtime::{Failure, Guest, Outcome};

impl ServerSpec {
    /// On the simulated network, the server on a node of its own called
    /// `name`: a loopback `listen` address becomes the node's own address
    /// of that family (its port kept), so that clients on other nodes reach
    /// it. Unchanged on the real network.
    pub fn placed(mut self, name: &str) -> ServerSpec {
        if let Some(node) = tasks::node(name) {
            if self.listen.ip().is_loopback() {
                self.listen.set_ip(node_ip(&node, self.listen.is_ipv4()));
            }
            self.node = Some(node);
        }
        self
    }
}

impl ClientSpec {
    /// On the simulated network, the client on a node of its own called
    /// `name`. Unchanged on the real network.
    pub fn placed(mut self, name: &str) -> ClientSpec {
        self.node = tasks::node(name);
        self
    }
}

/// A TCP guest's failure on the simulated network, with why: it has no
/// TCP yet (`create-tcp-socket` answers `not-supported`).
pub(super) fn without_tcp<T>(
    guest: &Guest,
    node: &Option<socklab_sim::Node>,
    mut outcome: Outcome<T>,
) -> Outcome<T> {
    if let (Some(_), Transport::Tcp, Err(Failure::Returned(why))) =
        (node, guest.role.transport, &mut outcome.result)
    {
        why.push_str(
            " (the simulated network carries UDP only for now: its TCP is still to come; run TCP guests on the real network)",
        );
    }
    outcome
}

/// `node`'s own address of one family.
pub(super) fn node_ip(node: &socklab_sim::Node, ipv4: bool) -> IpAddr {
    if ipv4 {
        IpAddr::V4(node.ipv4())
    } else {
        IpAddr::V6(node.ipv6())
    }
}
