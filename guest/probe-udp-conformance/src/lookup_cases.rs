//! The cases of `ip-name-lookup`: `resolve-addresses` (`getaddrinfo`) and
//! `resolve-next-address`. Only names that never leave the machine:
//! `localhost`, an IP literal, a malformed name, and one the grants refuse.

use socklab_guest::wasi::io::poll::Pollable;
use socklab_guest::wasi::sockets::network::{ErrorCode, IpAddress};

use crate::lookup::wasi::sockets::ip_name_lookup::{ResolveAddressStream, resolve_addresses};
use crate::net::*;

/// `resolve-addresses(name)` alone: `ok` if it gave a stream, else its error.
pub fn resolve(name: &str) -> Outcome {
    resolve_addresses(&network(), name).map(|_| String::new())
}

/// Every address `name` resolves to, waiting (bounded) on the stream's
/// pollable while it says `would-block`; also whether the very first
/// `resolve-next-address` was `would-block`.
fn all_addresses(name: &str) -> Result<(Vec<String>, bool), ErrorCode> {
    let stream = resolve_addresses(&network(), name)?;
    let ready: Pollable = stream.subscribe();
    let mut found = Vec::new();
    let mut first_blocked = None;
    for _ in 0..100 {
        match stream.resolve_next_address() {
            Err(ErrorCode::WouldBlock) => {
                first_blocked.get_or_insert(true);
                if !wait(&ready, WAIT_MS) {
                    return Err(ErrorCode::Timeout);
                }
            }
            Err(e) => return Err(e),
            Ok(None) => return Ok((found, first_blocked.unwrap_or(false))),
            Ok(Some(ip)) => {
                first_blocked.get_or_insert(false);
                found.push(ip_text(&ip));
            }
        }
    }
    Err(ErrorCode::Timeout)
}

/// Every address of `name`, sorted and de-duplicated, allow-listed as
/// `addresses=...` (what `localhost` means is the machine's choice).
pub fn addresses(name: &str) -> Outcome {
    let (mut found, _) = all_addresses(name)?;
    found.sort();
    found.dedup();
    Ok(format!("addresses={}", found.join("+")))
}

/// Whether `name` resolves to `want` among its addresses.
pub fn includes(name: &str, want: &str) -> Outcome {
    let (found, _) = all_addresses(name)?;
    Ok(found.iter().any(|a| a == want).to_string())
}

/// Whether the first `resolve-next-address` said `would-block` (a lookup
/// still running) or had an answer at once: timing, allow-listed.
pub fn first_call(name: &str) -> Outcome {
    let (_, blocked) = all_addresses(name)?;
    Ok(format!(
        "first-call={}",
        if blocked { "would-block" } else { "ready" }
    ))
}

/// An IP literal comes back as itself, with no lookup and no waiting; the
/// stream then ends (`none`), and stays ended.
pub fn literal(name: &str) -> Outcome {
    let stream: ResolveAddressStream = resolve_addresses(&network(), name)?;
    let first = stream.resolve_next_address()?;
    let second = stream.resolve_next_address()?;
    let third = stream.resolve_next_address()?;
    let show = |ip: Option<IpAddress>| ip.map_or("none".to_string(), |ip| ip_text(&ip));
    Ok(format!(
        "first={},then={},then={}",
        show(first),
        show(second),
        show(third)
    ))
}

fn ip_text(ip: &IpAddress) -> String {
    match *ip {
        IpAddress::Ipv4((a, b, c, d)) => format!("{a}.{b}.{c}.{d}"),
        IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => {
            std::net::Ipv6Addr::new(a, b, c, d, e, f, g, h).to_string()
        }
    }
}
