//! What every WASI 0.3 socklab guest shares (the 0.2 guests' twin is
//! `guest/common`).
//!
//! # Layout
//! - [`bindings`]: `wasi:sockets/types@0.3.0`, `wasi:clocks@0.3.0` and
//!   `socklab:lab@0.2.0`'s `host` and `types`, generated once here; each
//!   guest's own `generate!` reuses them through `with` (the `role!`
//!   macro below writes it).
//! - this file: addresses and error codes as text, parameters, logging, and
//!   [`read_until`], a stream read raced against a deadline that keeps what
//!   arrived.
//!
//! WASI 0.3 needs no two-phase helpers: `bind`, `connect` and `listen` are
//! one call each, `listen` returns the stream of accepted sockets, and a
//! connection's bytes are a `stream<u8>` each way. Start with a guest
//! (`guest/wasi03-tcp-echo-server/src/lib.rs`).

use std::pin::pin;

use futures::future::{Either, select};

/// The imports every 0.3 guest may use, generated from `wit/p3` once for all.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/p3",
        inline: "
            package socklab:guest03;
            world imports {
                import wasi:sockets/types@0.3.0;
                import wasi:clocks/monotonic-clock@0.3.0;
                import socklab:lab/types@0.2.0;
                import socklab:lab/host@0.2.0;
            }
        ",
        world: "socklab:guest03/imports",
        generate_all,
    });
}

pub use bindings::socklab::lab::{host, types};
pub use bindings::wasi;
pub use bindings::wit_stream;
pub use wit_bindgen::{StreamReader, StreamResult, StreamWriter};

use wasi::clocks::monotonic_clock;
use wasi::sockets::types::{ErrorCode, IpAddressFamily, IpSocketAddress};

/// Generates a guest's bindings for one world of `wit/p3/worlds.wit`,
/// reusing the imports above: `socklab_guest03::role!("socklab:lab/tcp-server@0.2.0");`,
/// then `export!(Server);`. wit-bindgen refuses a `with` entry its world
/// does not use, so each world has an arm naming what it imports.
#[macro_export]
macro_rules! role {
    ("socklab:lab/tcp-server@0.2.0") => {
        $crate::role!(@with "socklab:lab/tcp-server@0.2.0" {});
    };
    ("socklab:lab/tcp-client@0.2.0") => {
        $crate::role!(@with "socklab:lab/tcp-client@0.2.0" {
            "wasi:clocks/monotonic-clock@0.3.0": socklab_guest03::wasi::clocks::monotonic_clock,
        });
    };
    ("socklab:lab/udp-server@0.2.0") => {
        $crate::role!(@with "socklab:lab/udp-server@0.2.0" {});
    };
    ("socklab:lab/udp-client@0.2.0") => {
        $crate::role!(@with "socklab:lab/udp-client@0.2.0" {
            "wasi:clocks/monotonic-clock@0.3.0": socklab_guest03::wasi::clocks::monotonic_clock,
        });
    };
    (@with $world:literal { $($with:tt)* }) => {
        wit_bindgen::generate!({
            path: "../../wit/p3",
            world: $world,
            with: {
                "wasi:sockets/types@0.3.0": socklab_guest03::wasi::sockets::types,
                "wasi:clocks/types@0.3.0": socklab_guest03::wasi::clocks::types,
                "socklab:lab/types@0.2.0": socklab_guest03::types,
                "socklab:lab/host@0.2.0": socklab_guest03::host,
                $($with)*
            },
        });
    };
}

/// The address family of `addr`, for `tcp-socket.create` (the `AF_INET` or
/// `AF_INET6` argument of `socket()`).
pub fn family_of(addr: &IpSocketAddress) -> IpAddressFamily {
    match addr {
        IpSocketAddress::Ipv4(_) => IpAddressFamily::Ipv4,
        IpSocketAddress::Ipv6(_) => IpAddressFamily::Ipv6,
    }
}

/// Any address of `family` and port 0: `bind(("0.0.0.0", 0))`, what a first
/// `sendto` does implicitly.
pub fn unspecified(family: IpAddressFamily) -> IpSocketAddress {
    use wasi::sockets::types::{Ipv4SocketAddress, Ipv6SocketAddress};
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

/// A `std::net` address as `wasi:sockets` writes it.
pub fn from_std(addr: std::net::SocketAddr) -> IpSocketAddress {
    use wasi::sockets::types::{Ipv4SocketAddress, Ipv6SocketAddress};
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
                flow_info: 0,
                address: (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
                scope_id: 0,
            })
        }
    }
}

/// Whether two addresses are the same peer (address and port; IPv6's flow
/// info and scope aside).
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

/// The value of parameter `key` (`--param key=value`), if given.
pub fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
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

/// `what` followed by the error code as WIT spells it, for
/// `result<_, string>` errors: `connect to 127.0.0.1:80: access-denied`.
pub fn failed(what: &str, code: ErrorCode) -> String {
    format!("{what}: {}", code_text(&code))
}

/// The error code as WIT spells it (`access-denied`); `other` with its
/// message when the host gave one. (0.3's `error-code` is a variant, so the
/// bindings have no `name()`: the case's Rust name is spelled in kebab case.)
pub fn code_text(code: &ErrorCode) -> String {
    if let ErrorCode::Other(message) = code {
        return format!("other: {}", message.as_deref().unwrap_or("(no message)"));
    }
    // Debug reads `ErrorCode::AccessDenied`.
    let debug = format!("{code:?}");
    let case = debug.rsplit("::").next().unwrap_or(&debug);
    let mut text = String::new();
    for c in case.chars() {
        if c.is_ascii_uppercase() && !text.is_empty() {
            text.push('-');
        }
        text.push(c.to_ascii_lowercase());
    }
    text
}

/// Log an informational event through the host.
pub fn info(message: &str) {
    host::log(host::Level::Info, message);
}

/// Log a detail the host shows only when asked for more.
pub fn debug(message: &str) {
    host::log(host::Level::Debug, message);
}

/// Nanoseconds of the monotonic clock since `start`.
pub fn elapsed_ns(start: monotonic_clock::Mark) -> u64 {
    monotonic_clock::now().saturating_sub(start)
}

/// How one [`read_until`] ended.
pub enum Read {
    /// Bytes arrived (possibly none, when the read was cancelled at the
    /// deadline before any came: the next read times out at once).
    Bytes(Vec<u8>),
    /// The peer closed its side (`recv` returned `b''`).
    Closed,
    /// The deadline passed first.
    TimedOut,
}

/// `recv(max)` on `rx`, given up at `deadline` (a monotonic-clock mark):
/// the read and a `wait-until` race, and a read cut short by the deadline is
/// cancelled so that bytes it already took are kept, never lost.
pub async fn read_until(rx: &mut StreamReader<u8>, max: usize, deadline: u64) -> Read {
    let mut read = pin!(rx.read(Vec::with_capacity(max)));
    let timer = pin!(monotonic_clock::wait_until(deadline));
    let (result, bytes) = match select(read.as_mut(), timer).await {
        Either::Left((done, _)) => done,
        Either::Right(((), _)) => read.cancel(),
    };
    match result {
        StreamResult::Complete(_) => Read::Bytes(bytes),
        StreamResult::Dropped => Read::Closed,
        StreamResult::Cancelled => Read::TimedOut,
    }
}
