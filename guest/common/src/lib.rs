//! What every socklab guest shares.
//!
//! # Layout
//! - [`bindings`]: the WASI (`wasi:io`, `wasi:clocks`, `wasi:sockets`) and
//!   socklab (`socklab:lab/host`, `socklab:lab/types`) imports, generated once
//!   here; each guest's own `role!` bindings reuse them through `with`.
//! - [`tcp`], [`udp`]: extension traits that turn the two-phase
//!   `start-*`/`finish-*` calls into one blocking call, so a guest reads as
//!   its list of BSD socket steps.
//! - [`io`]: waiting on pollables with a deadline, writing a whole buffer.
//! - [`probe`]: the conformance probes' outcomes and addresses.
//! - this file: addresses and error codes as text, parameters, logging.
//!
//! Start with a guest (`guest/tcp-echo-server/src/lib.rs`), then come here
//! for the helpers it calls.

pub mod io;
pub mod probe;
pub mod tcp;
pub mod udp;

/// The imports every guest may use, generated from `wit/` once for all.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        inline: "
            package socklab:guest;
            world imports {
                import wasi:io/poll@0.2.12;
                import wasi:io/streams@0.2.12;
                import wasi:clocks/monotonic-clock@0.2.12;
                import wasi:sockets/network@0.2.12;
                import wasi:sockets/instance-network@0.2.12;
                import wasi:sockets/tcp@0.2.12;
                import wasi:sockets/tcp-create-socket@0.2.12;
                import wasi:sockets/udp@0.2.12;
                import wasi:sockets/udp-create-socket@0.2.12;
                import socklab:lab/types@0.1.0;
                import socklab:lab/host@0.1.0;
            }
        ",
        world: "socklab:guest/imports",
        generate_all,
    });
}

pub use bindings::socklab::lab::{host, types};
pub use bindings::wasi;

use wasi::sockets::network::{
    ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
};

/// Generates a guest's own bindings for one socklab role world, reusing the
/// imports above, and the `export!` macro that registers its implementation:
/// `socklab_guest::role!("socklab:lab/tcp-server");`, then `export!(Server);`
/// with `impl exports::socklab::lab::tcp_server_role::Guest for Server`.
///
/// A guest that imports more than its role's world names what it adds:
/// `socklab_guest::role!("socklab:lab/udp-server" + "wasi:clocks/monotonic-clock@0.2.12");`.
/// The host reads a guest's role from its exports, so a guest may import
/// more; naming the extra imports keeps the world it is built against the
/// one it uses. Each such combination has an arm below, because wit-bindgen
/// takes an inline world only as one string.
///
/// wit-bindgen refuses a `with` entry that its world does not use, so each
/// arm names the groups of interfaces its world imports (`tcp`, `udp`,
/// `clock`, `name_lookup`), and `@with` adds each group's entries.
#[macro_export]
macro_rules! role {
    // The four roles of `wit/worlds.wit`. TCP needs the clock:
    // `wasi:sockets/tcp` uses its `duration` (keep-alive settings).
    ("socklab:lab/tcp-server") => {
        $crate::role!(@with (world: "socklab:lab/tcp-server",) {} tcp clock);
    };
    ("socklab:lab/tcp-client") => {
        $crate::role!(@with (world: "socklab:lab/tcp-client",) {} tcp clock);
    };
    ("socklab:lab/udp-server") => {
        $crate::role!(@with (world: "socklab:lab/udp-server",) {} udp);
    };
    ("socklab:lab/udp-client") => {
        $crate::role!(@with (world: "socklab:lab/udp-client",) {} udp clock);
    };
    // A role's world plus imports of the guest's own.
    ("socklab:lab/tcp-server" + "wasi:sockets/ip-name-lookup@0.2.12") => {
        $crate::role!(@with (
            inline: "package socklab:role; world role {
                include socklab:lab/tcp-server@0.1.0;
                import wasi:sockets/ip-name-lookup@0.2.12;
            }",
            world: "socklab:role/role",
        ) {} tcp clock name_lookup);
    };
    ("socklab:lab/tcp-client"
        + "wasi:sockets/udp@0.2.12"
        + "wasi:sockets/udp-create-socket@0.2.12") => {
        $crate::role!(@with (
            inline: "package socklab:role; world role {
                include socklab:lab/tcp-client@0.1.0;
                import wasi:sockets/udp@0.2.12;
                import wasi:sockets/udp-create-socket@0.2.12;
            }",
            world: "socklab:role/role",
        ) {} tcp clock udp);
    };
    ("socklab:lab/udp-server" + "wasi:clocks/monotonic-clock@0.2.12") => {
        $crate::role!(@with (
            inline: "package socklab:role; world role {
                include socklab:lab/udp-server@0.1.0;
                import wasi:clocks/monotonic-clock@0.2.12;
            }",
            world: "socklab:role/role",
        ) {} udp clock);
    };
    // Each group's `with` entries, added one group at a time.
    (@with $source:tt { $($with:tt)* } tcp $($rest:ident)*) => {
        $crate::role!(@with $source { $($with)*
            "wasi:io/error@0.2.12": socklab_guest::wasi::io::error,
            "wasi:io/streams@0.2.12": socklab_guest::wasi::io::streams,
            "wasi:sockets/tcp@0.2.12": socklab_guest::wasi::sockets::tcp,
            "wasi:sockets/tcp-create-socket@0.2.12": socklab_guest::wasi::sockets::tcp_create_socket,
        } $($rest)*);
    };
    (@with $source:tt { $($with:tt)* } udp $($rest:ident)*) => {
        $crate::role!(@with $source { $($with)*
            "wasi:sockets/udp@0.2.12": socklab_guest::wasi::sockets::udp,
            "wasi:sockets/udp-create-socket@0.2.12": socklab_guest::wasi::sockets::udp_create_socket,
        } $($rest)*);
    };
    (@with $source:tt { $($with:tt)* } clock $($rest:ident)*) => {
        $crate::role!(@with $source { $($with)*
            "wasi:clocks/monotonic-clock@0.2.12": socklab_guest::wasi::clocks::monotonic_clock,
        } $($rest)*);
    };
    (@with $source:tt { $($with:tt)* } name_lookup $($rest:ident)*) => {
        $crate::role!(@with $source { $($with)*
            // Generated in the guest's own bindings, not above: std's sockets
            // import `ip-name-lookup@0.2.6`, and a 0.2.12 one above would
            // stand in for it in every std guest (the newest version wins).
            "wasi:sockets/ip-name-lookup@0.2.12": generate,
        } $($rest)*);
    };
    // Every group added: what every world imports, then the groups'.
    (@with ($($source:tt)*) { $($with:tt)* }) => {
        wit_bindgen::generate!({
            path: "../../wit",
            $($source)*
            with: {
                "wasi:io/poll@0.2.12": socklab_guest::wasi::io::poll,
                "wasi:sockets/network@0.2.12": socklab_guest::wasi::sockets::network,
                "wasi:sockets/instance-network@0.2.12": socklab_guest::wasi::sockets::instance_network,
                "socklab:lab/types@0.1.0": socklab_guest::types,
                "socklab:lab/host@0.1.0": socklab_guest::host,
                $($with)*
            },
        });
    };
    ($($other:tt)*) => {
        compile_error!(concat!(
            "socklab_guest::role! has no arm for ",
            stringify!($($other)*),
            "; add one in guest/common/src/lib.rs: the role's world, plus the imports the guest adds"
        ));
    };
}

/// The address family of `addr`, for `create-tcp-socket` / `create-udp-socket`
/// (the `AF_INET` or `AF_INET6` argument of `socket()`).
pub fn family_of(addr: &IpSocketAddress) -> IpAddressFamily {
    match addr {
        IpSocketAddress::Ipv4(_) => IpAddressFamily::Ipv4,
        IpSocketAddress::Ipv6(_) => IpAddressFamily::Ipv6,
    }
}

/// The wildcard address of `family` with port 0: "any interface, any free
/// port", what `bind(("", 0))` asks for.
pub fn unspecified(family: IpAddressFamily) -> IpSocketAddress {
    match family {
        IpAddressFamily::Ipv4 => IpSocketAddress::Ipv4(Ipv4SocketAddress {
            port: 0,
            address: (0, 0, 0, 0),
        }),
        IpAddressFamily::Ipv6 => IpSocketAddress::Ipv6(Ipv6SocketAddress {
            port: 0,
            flow_info: 0,
            address: (0, 0, 0, 0, 0, 0, 0, 0),
            scope_id: 0,
        }),
    }
}

/// `addr` as people write it: `127.0.0.1:80`, `[::1]:80`.
pub fn addr_text(addr: &IpSocketAddress) -> String {
    match addr {
        IpSocketAddress::Ipv4(a) => {
            let (x, y, z, w) = a.address;
            format!("{x}.{y}.{z}.{w}:{}", a.port)
        }
        IpSocketAddress::Ipv6(a) => {
            let (p0, p1, p2, p3, p4, p5, p6, p7) = a.address;
            let ip = std::net::Ipv6Addr::new(p0, p1, p2, p3, p4, p5, p6, p7);
            format!("[{ip}]:{}", a.port)
        }
    }
}

/// Whether two socket addresses name the same peer (address and port; the
/// IPv6 flow label is ignored).
pub fn same_peer(a: &IpSocketAddress, b: &IpSocketAddress) -> bool {
    match (a, b) {
        (IpSocketAddress::Ipv4(a), IpSocketAddress::Ipv4(b)) => {
            a.address == b.address && a.port == b.port
        }
        (IpSocketAddress::Ipv6(a), IpSocketAddress::Ipv6(b)) => {
            a.address == b.address && a.port == b.port
        }
        _ => false,
    }
}

/// The error code as WIT spells it (`access-denied`), for reports.
pub fn code_text(code: ErrorCode) -> String {
    code.name().to_string()
}

/// `what` followed by the error code, for `result<_, string>` errors:
/// `connect to 127.0.0.1:80: access-denied`.
pub fn failed(what: &str, code: ErrorCode) -> String {
    format!("{what}: {}", code_text(code))
}

/// The value of parameter `key`, if the host passed one.
pub fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Log an informational event through the host.
pub fn info(message: &str) {
    host::log(host::Level::Info, message);
}

/// Log a detail the host shows only when asked for more.
pub fn debug(message: &str) {
    host::log(host::Level::Debug, message);
}

/// A `std::net` address as a WASI socket address.
pub fn from_std(addr: std::net::SocketAddr) -> IpSocketAddress {
    match addr {
        std::net::SocketAddr::V4(a) => {
            let [x, y, z, w] = a.ip().octets();
            IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port: a.port(),
                address: (x, y, z, w),
            })
        }
        std::net::SocketAddr::V6(a) => {
            let s = a.ip().segments();
            IpSocketAddress::Ipv6(Ipv6SocketAddress {
                port: a.port(),
                flow_info: a.flowinfo(),
                address: (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
                scope_id: a.scope_id(),
            })
        }
    }
}

/// A WASI socket address as a `std::net` one, for guests written with
/// `std::net` (whose sockets go through `wasi:sockets` too).
pub fn to_std(addr: IpSocketAddress) -> std::net::SocketAddr {
    match addr {
        IpSocketAddress::Ipv4(a) => {
            let (x, y, z, w) = a.address;
            std::net::SocketAddr::from(([x, y, z, w], a.port))
        }
        IpSocketAddress::Ipv6(a) => {
            let (p0, p1, p2, p3, p4, p5, p6, p7) = a.address;
            let ip = std::net::Ipv6Addr::new(p0, p1, p2, p3, p4, p5, p6, p7);
            std::net::SocketAddr::V6(std::net::SocketAddrV6::new(
                ip,
                a.port,
                a.flow_info,
                a.scope_id,
            ))
        }
    }
}
