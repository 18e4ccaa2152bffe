//! The four role worlds as the host sees them: generated bindings, and how a
//! component's exports tell its role and transport.
//!
//! A guest built with Rust std imports more than it uses, so imports cannot
//! decide its role; each world exports an interface of its own
//! (`socklab:lab/tcp-server-role`, ...), and that name alone decides.

use std::fmt;

/// Bindings for every socklab world at once. WASI types come from
/// `wasmtime-wasi`, so a socklab `pollable` is wasmtime-wasi's pollable and a
/// socklab address is wasmtime-wasi's `ip-socket-address`.
#[allow(missing_docs)] // generated; the WIT in `wit/` documents every item
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        inline: "
            package socklab:host;
            world all-roles {
                include socklab:lab/tcp-server@0.1.0;
                include socklab:lab/tcp-client@0.1.0;
                include socklab:lab/udp-server@0.1.0;
                include socklab:lab/udp-client@0.1.0;
            }
        ",
        world: "socklab:host/all-roles",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:sockets": wasmtime_wasi::p2::bindings::sockets,
        },
    });
}

/// What a guest does: serve or connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// It listens and serves.
    Server,
    /// It connects and sends.
    Client,
}

/// Which transport a guest speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// A guest's role: one of the four worlds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Role {
    /// Server or client.
    pub side: Side,
    /// TCP or UDP.
    pub transport: Transport,
}

impl Role {
    /// The four roles, TCP first.
    pub const ALL: [Role; 4] = [
        Role {
            side: Side::Server,
            transport: Transport::Tcp,
        },
        Role {
            side: Side::Client,
            transport: Transport::Tcp,
        },
        Role {
            side: Side::Server,
            transport: Transport::Udp,
        },
        Role {
            side: Side::Client,
            transport: Transport::Udp,
        },
    ];

    /// The world's name in `wit/worlds.wit`: `tcp-server`, `udp-client`, ...
    pub fn world(self) -> &'static str {
        match (self.transport, self.side) {
            (Transport::Tcp, Side::Server) => "tcp-server",
            (Transport::Tcp, Side::Client) => "tcp-client",
            (Transport::Udp, Side::Server) => "udp-server",
            (Transport::Udp, Side::Client) => "udp-client",
        }
    }

    /// The export that marks the role, without its version:
    /// `socklab:lab/tcp-server-role`.
    pub fn export(self) -> String {
        format!("socklab:lab/{}-role", self.world())
    }

    /// The role whose export is named `name` (any `0.1.x` version), if any.
    pub fn from_export(name: &str) -> Option<Role> {
        let (unversioned, version) = name.split_once('@').unwrap_or((name, ""));
        if !(version.is_empty() || version.starts_with("0.1.")) {
            return None;
        }
        Role::ALL.into_iter().find(|r| r.export() == unversioned)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.world())
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Tcp => "TCP",
            Transport::Udp => "UDP",
        })
    }
}
