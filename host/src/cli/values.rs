//! The parsers of flag values: addresses, whole numbers, rules, `KEY=VALUE`;
//! each error says what the value must be.

use std::net::SocketAddr;

use crate::grants::rules::{self, Origin, Rule};

/// `IP:PORT`, with IPv6 in brackets.
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse().map_err(|_| {
        format!("`{s}` is not an address; write IP:PORT, such as 127.0.0.1:8080 or [::1]:8080 (port 0..65535)")
    })
}

/// A server's address: `IP:PORT` with a port other than 0 (port 0 asks
/// for "any free port", which only a listener can be given).
pub fn parse_server_addr(s: &str) -> Result<SocketAddr, String> {
    let addr = parse_addr(s)?;
    if addr.port() == 0 {
        return Err(format!(
            "`{s}` has port 0, which no server listens on; give the port the server listens on"
        ));
    }
    Ok(addr)
}

/// A whole number from 1.
pub fn parse_from_1(s: &str) -> Result<u64, String> {
    whole(s, 1)
}

/// A seed: any whole number from 0.
pub fn parse_seed(s: &str) -> Result<u64, String> {
    whole(s, 0)
}

/// Rounds of an experiment: 1 to 1000.
pub fn parse_repeats(s: &str) -> Result<u32, String> {
    match whole(s, 1)? {
        n @ 1..=1000 => Ok(n as u32),
        _ => Err(format!("`{s}` is more than 1000 rounds")),
    }
}

/// A whole number from 0 that fits 32 bits.
pub fn parse_u32(s: &str) -> Result<u32, String> {
    let n = whole(s, 0)?;
    u32::try_from(n).map_err(|_| format!("`{s}` is larger than {}", u32::MAX))
}

/// A whole number from `min`; a negative one is named as such.
fn whole(s: &str, min: u64) -> Result<u64, String> {
    let t = s.trim();
    let n = match t.strip_prefix('-') {
        Some(digits) if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) => {
            return Err(format!(
                "`{s}` is negative; give a whole number from {min} up"
            ));
        }
        _ => t
            .parse::<u64>()
            .map_err(|_| format!("`{s}` is not a whole number; give one from {min} up"))?,
    };
    if n < min {
        return Err(format!(
            "`{s}` is too small; give a whole number from {min} up"
        ));
    }
    Ok(n)
}

/// An `--allow` rule.
pub fn parse_allow(s: &str) -> Result<Rule, String> {
    rules::parse(s, Origin::Allow)
}

/// A `--deny` rule.
pub fn parse_deny(s: &str) -> Result<Rule, String> {
    rules::parse(s, Origin::Deny)
}

/// A `KEY=VALUE` parameter or environment variable.
pub fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}
