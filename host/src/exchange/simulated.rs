//! An exchange on the simulated network: each guest on a node of its own,
//! a server reached at its node's address.

use std::net::IpAddr;

use super::{ClientSpec, ServerSpec};
use crate::runtime::tasks;

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

/// `node`'s own address of one family.
pub(super) fn node_ip(node: &socklab_sim::Node, ipv4: bool) -> IpAddr {
    if ipv4 {
        IpAddr::V4(node.ipv4())
    } else {
        IpAddr::V6(node.ipv6())
    }
}
