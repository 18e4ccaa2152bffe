//! The role worlds as the host sees them: generated bindings, and how a
//! component's exports tell its role, its transport and its WASI version.
//!
//! A guest built with Rust std imports more than it uses, so imports cannot
//! decide its role; each world exports an interface of its own
//! (`socklab:lab/tcp-server-role`, ...), and that name alone decides. The
//! package version of that export says which WASI the role is written
//! against: `socklab:lab@0.1.x` (`wit/`) is WASI 0.2, `socklab:lab@0.2.x`
//! (`wit/p3/`) is WASI 0.3, with the same four roles ([`bindings03`]).

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

/// Bindings for the WASI 0.3 role worlds (`wit/p3`, `socklab:lab@0.2.0`).
/// WASI types come from wasmtime-wasi's `p3` bindings; the exports are
/// called concurrently (`call_serve(accessor, ...)` inside
/// `Store::run_concurrent`), and `stop-requested` gets the store so that it
/// can make the `future` it returns.
#[allow(missing_docs)] // generated; the WIT in `wit/p3` documents every item
pub mod bindings03 {
    wasmtime::component::bindgen!({
        path: "../wit/p3",
        inline: "
            package socklab:host03;
            world all-roles {
                include socklab:lab/tcp-server@0.2.0;
                include socklab:lab/tcp-client@0.2.0;
                include socklab:lab/udp-server@0.2.0;
                include socklab:lab/udp-client@0.2.0;
            }
        ",
        world: "socklab:host03/all-roles",
        imports: {
            "socklab:lab/host.stop-requested": store | trappable,
            default: trappable,
        },
        exports: { default: async | store },
        with: {
            "wasi:sockets": wasmtime_wasi::p3::bindings::sockets,
            "wasi:clocks": wasmtime_wasi::p3::bindings::clocks,
        },
    });
}

/// Which WASI a guest is written against, from its role export's package
/// version or its `wasi:sockets` imports (see `runtime::wasi`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Wasi {
    /// WASI 0.2 (`wasi:sockets@0.2.x`, two-phase calls and pollables).
    #[serde(rename = "0.2")]
    P2,
    /// WASI 0.3 (`wasi:sockets@0.3.0`, `async` calls, streams and futures).
    #[serde(rename = "0.3")]
    P3,
}

impl Wasi {
    /// As reports say it: `0.2`, `0.3`.
    pub fn name(self) -> &'static str {
        match self {
            Wasi::P2 => "0.2",
            Wasi::P3 => "0.3",
        }
    }

    /// The versions of `socklab:lab` whose roles are written against it.
    fn lab_versions(self) -> &'static str {
        match self {
            Wasi::P2 => "0.1.",
            Wasi::P3 => "0.2.",
        }
    }
}

impl fmt::Display for Wasi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WASI {}", self.name())
    }
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

    /// The WASI 0.2 role whose export is named `name` (any `0.1.x`
    /// version, or none), if any.
    pub fn from_export(name: &str) -> Option<Role> {
        match Role::from_versioned_export(name) {
            Some((role, Wasi::P2)) => Some(role),
            _ => None,
        }
    }

    /// The role whose export is named `name` and the WASI it is written
    /// against: `socklab:lab/tcp-server-role@0.1.0` is a WASI 0.2 TCP
    /// server, `...@0.2.0` a WASI 0.3 one. An unversioned name is taken for
    /// 0.2.
    pub fn from_versioned_export(name: &str) -> Option<(Role, Wasi)> {
        let (unversioned, version) = name.split_once('@').unwrap_or((name, ""));
        let wasi = if version.is_empty() || version.starts_with(Wasi::P2.lab_versions()) {
            Wasi::P2
        } else if version.starts_with(Wasi::P3.lab_versions()) {
            Wasi::P3
        } else {
            return None;
        };
        let role = Role::ALL.into_iter().find(|r| r.export() == unversioned)?;
        Some((role, wasi))
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
