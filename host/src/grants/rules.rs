//! The rule grammar: `OPS=TARGETS`, as `--allow` and `--deny` take it and as
//! experiment files' `allow` and `deny` lists hold it.
//!
//! - `OPS`: `tcp-bind`, `tcp-listen`, `tcp-accept`, `tcp-connect`,
//!   `udp-bind`, `udp-send`, `udp-receive`, joined by `,`; `tcp` and `udp`
//!   for all of one transport, `*` for every socket operation, and `dns` for
//!   name lookups (which `*` leaves out).
//! - `TARGETS`: `ADDR[:PORTS]` joined by `,`, where `ADDR` is an IPv4
//!   address, a bracketed IPv6 address, a CIDR block (`10.0.0.0/8`,
//!   `[fd00::]/8`), `localhost` (both loopbacks) or `*`, and `PORTS` is a
//!   port, a range `8000-8100` or `*` (the default). For `dns` the targets
//!   are name patterns: `example.com`, `*.example.com`, `*`.
//!
//! For bind and listen the target is the local address; for accept,
//! connect, send and receive it is the peer.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;

use super::op::Op;

/// Where a rule came from, for the transcript and the audit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// The host's least-privilege grant for the wiring.
    Wiring,
    /// `--allow` (or a `*-allow` flag) on the command line.
    Allow,
    /// `--deny` (or a `*-deny` flag).
    Deny,
}

/// A parsed rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The socket operations it covers.
    pub ops: Vec<Op>,
    /// Whether it covers name lookups (`dns`).
    pub dns: bool,
    /// What it covers: addresses and ports, or names.
    pub targets: Vec<Target>,
    /// Where it came from.
    pub origin: Origin,
}

/// One `ADDR[:PORTS]`, or a name pattern for `dns`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An address block (or any, or localhost) and a port range.
    Addr {
        /// The addresses.
        addr: AddrMatch,
        /// The ports, inclusive.
        ports: (u16, u16),
    },
    /// Peers this guest has received a datagram from: the wiring's grant
    /// for a UDP server's replies. Not part of the grammar.
    Senders,
    /// A name pattern (`dns` rules): `example.com`, `*.example.com`, `*`.
    Name(String),
}

/// The address part of a target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddrMatch {
    /// Any address.
    Any,
    /// `127.0.0.1` and `::1`.
    Localhost,
    /// A block of addresses (`/32` or `/128` for one address).
    Block(IpNet),
}

impl Rule {
    /// A wiring grant of `op` on `target`.
    pub fn wiring(op: Op, target: Target) -> Rule {
        Rule {
            ops: vec![op],
            dns: false,
            targets: vec![target],
            origin: Origin::Wiring,
        }
    }

    /// Whether the rule covers `op` on `addr`; `senders` answers
    /// [`Target::Senders`].
    pub fn matches(&self, op: Op, addr: SocketAddr, senders: impl Fn(SocketAddr) -> bool) -> bool {
        self.ops.contains(&op)
            && self.targets.iter().any(|t| match t {
                Target::Addr { addr: a, ports } => {
                    a.contains(addr.ip()) && (ports.0..=ports.1).contains(&addr.port())
                }
                Target::Senders => senders(addr),
                Target::Name(_) => false,
            })
    }

    /// Whether the rule covers looking up `name`.
    pub fn matches_name(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.dns
            && self.targets.iter().any(|t| match t {
                Target::Name(p) if p == "*" => true,
                Target::Name(p) => match p.strip_prefix("*.") {
                    Some(suffix) => name.ends_with(&format!(".{suffix}")),
                    None => *p == name,
                },
                _ => false,
            })
    }
}

impl AddrMatch {
    /// Whether `ip` (IPv4-mapped ones as IPv4) is one of these addresses.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match self {
            AddrMatch::Any => true,
            AddrMatch::Localhost => {
                ip == IpAddr::V4(Ipv4Addr::LOCALHOST) || ip == IpAddr::V6(Ipv6Addr::LOCALHOST)
            }
            AddrMatch::Block(net) => net.contains(&ip),
        }
    }
}

/// The block `ip/bits`; `bits` has been checked against the family.
fn block(ip: IpAddr, bits: u8) -> AddrMatch {
    AddrMatch::Block(IpNet::new(ip, bits).expect("the prefix length fits the family"))
}

/// Parse `OPS=TARGETS`; the error says what is wrong and shows the form.
pub fn parse(text: &str, origin: Origin) -> Result<Rule, String> {
    let bad = |why: String| {
        Err(format!(
            "bad rule `{text}`: {why}; write OPS=TARGETS, e.g. tcp-connect=127.0.0.1:8000-8100 or 'udp=[::1]:*'"
        ))
    };
    let Some((ops_text, targets_text)) = text.split_once('=') else {
        return bad("no `=` between operations and targets".into());
    };
    let mut ops = Vec::new();
    let mut dns = false;
    for word in ops_text.split(',').map(str::trim) {
        let more: &[Op] = match word {
            "*" => &Op::ALL,
            "tcp" => &Op::ALL[..4],
            "udp" => &Op::ALL[4..],
            "dns" => {
                dns = true;
                &[]
            }
            _ => match Op::ALL.iter().find(|op| op.name() == word) {
                Some(op) => std::slice::from_ref(op),
                None => {
                    return bad(format!(
                        "unknown operation `{word}` (use tcp-bind, tcp-listen, tcp-accept, tcp-connect, udp-bind, udp-send, udp-receive, tcp, udp, *, dns)"
                    ));
                }
            },
        };
        for op in more {
            if !ops.contains(op) {
                ops.push(*op);
            }
        }
    }
    if dns && !ops.is_empty() {
        return bad(
            "`dns` takes name patterns, so it cannot share a rule with socket operations".into(),
        );
    }
    let mut targets = Vec::new();
    for word in targets_text.split(',').map(str::trim) {
        if word.is_empty() {
            return bad("an empty target".into());
        }
        let target = if dns {
            parse_name(word)
        } else {
            parse_target(word)
        };
        match target {
            Ok(t) => targets.push(t),
            Err(why) => return bad(why),
        }
    }
    Ok(Rule {
        ops,
        dns,
        targets,
        origin,
    })
}

fn parse_name(word: &str) -> Result<Target, String> {
    let name = word.trim_end_matches('.').to_ascii_lowercase();
    let body = name.strip_prefix("*.").unwrap_or(&name);
    let valid = name == "*"
        || (!body.is_empty()
            && body.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            }));
    if valid {
        Ok(Target::Name(name))
    } else {
        Err(format!(
            "`{word}` is not a name pattern (example.com, *.example.com, *)"
        ))
    }
}

fn parse_target(word: &str) -> Result<Target, String> {
    // Split ADDR from :PORTS. IPv6 is bracketed, so the last `:` outside
    // brackets separates the ports.
    let (addr_text, ports_text) = if let Some(rest) = word.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Err(format!("`{word}` opens a `[` it does not close"));
        };
        // `[fd00::]/8` keeps its prefix length outside the brackets.
        let (prefix, ports) = match after.strip_prefix('/') {
            Some(p) => p
                .split_once(':')
                .map_or((Some(p), None), |(b, ports)| (Some(b), Some(ports))),
            None => match after.strip_prefix(':') {
                Some(ports) => (None, Some(ports)),
                None if after.is_empty() => (None, None),
                None => return Err(format!("`{word}`: expected `:PORTS` after `]`")),
            },
        };
        let ip: Ipv6Addr = inside
            .parse()
            .map_err(|_| format!("`{inside}` is not an IPv6 address"))?;
        let bits = match prefix {
            Some(p) => parse_bits(p, 128)?,
            None => 128,
        };
        (block(IpAddr::V6(ip), bits), ports)
    } else {
        if word.matches(':').count() > 1 {
            let (ip, block) = word.split_once('/').map_or((word, ""), |(i, b)| (i, b));
            let bracketed = if block.is_empty() {
                format!("[{ip}] (any port) or [{ip}]:PORT")
            } else {
                format!("[{ip}]/{block}")
            };
            return Err(format!(
                "`{word}` looks like an IPv6 address; write it in brackets: {bracketed}"
            ));
        }
        let (addr, ports) = match word.split_once(':') {
            Some((a, p)) => (a, Some(p)),
            None => (word, None),
        };
        let matcher = match addr {
            "*" => AddrMatch::Any,
            "localhost" => AddrMatch::Localhost,
            _ => {
                let (ip, bits) = match addr.split_once('/') {
                    Some((ip, b)) => (ip, Some(b)),
                    None => (addr, None),
                };
                let ip: Ipv4Addr = ip.parse().map_err(|_| {
                    format!(
                        "`{addr}` is not an address (IPv4, [IPv6], a CIDR block, localhost or *)"
                    )
                })?;
                let bits = match bits {
                    Some(b) => parse_bits(b, 32)?,
                    None => 32,
                };
                block(IpAddr::V4(ip), bits)
            }
        };
        (matcher, ports)
    };
    let ports = match ports_text {
        None | Some("*") => (0, u16::MAX),
        Some(p) => parse_ports(p)?,
    };
    Ok(Target::Addr {
        addr: addr_text,
        ports,
    })
}

fn parse_bits(text: &str, max: u8) -> Result<u8, String> {
    match text.parse::<u8>() {
        Ok(b) if b <= max => Ok(b),
        _ => Err(format!("`/{text}` is not a prefix length (0 to {max})")),
    }
}

fn parse_ports(text: &str) -> Result<(u16, u16), String> {
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("`{p}` is not a port (0 to 65535)"))
    };
    match text.split_once('-') {
        Some((lo, hi)) => {
            let (lo, hi) = (port(lo)?, port(hi)?);
            if lo > hi {
                return Err(format!(
                    "the port range `{text}` is reversed; write {hi}-{lo}"
                ));
            }
            Ok((lo, hi))
        }
        None => {
            let p = port(text)?;
            Ok((p, p))
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Senders => f.write_str("(peers it has received from)"),
            Target::Name(n) => f.write_str(n),
            Target::Addr { addr, ports } => {
                match addr {
                    AddrMatch::Any => f.write_str("*")?,
                    AddrMatch::Localhost => f.write_str("localhost")?,
                    AddrMatch::Block(IpNet::V4(n)) if n.prefix_len() == 32 => {
                        write!(f, "{}", n.addr())?
                    }
                    AddrMatch::Block(IpNet::V6(n)) if n.prefix_len() == 128 => {
                        write!(f, "[{}]", n.addr())?
                    }
                    AddrMatch::Block(IpNet::V4(n)) => write!(f, "{}/{}", n.addr(), n.prefix_len())?,
                    AddrMatch::Block(IpNet::V6(n)) => {
                        write!(f, "[{}]/{}", n.addr(), n.prefix_len())?
                    }
                }
                match ports {
                    (0, u16::MAX) => f.write_str(":*"),
                    (lo, hi) if lo == hi => write!(f, ":{lo}"),
                    (lo, hi) => write!(f, ":{lo}-{hi}"),
                }
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ops: Vec<&str> = if self.dns {
            vec!["dns"]
        } else if self.ops.len() == Op::ALL.len() {
            vec!["*"]
        } else {
            self.ops.iter().map(|op| op.name()).collect()
        };
        let targets: Vec<String> = self.targets.iter().map(|t| t.to_string()).collect();
        write!(f, "{}={}", ops.join(","), targets.join(","))
    }
}

impl Target {
    /// Exactly `addr`.
    pub fn exact(addr: SocketAddr) -> Target {
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        Target::Addr {
            addr: block(addr.ip(), bits),
            ports: (addr.port(), addr.port()),
        }
    }

    /// Address `ip`, any port.
    pub fn any_port(ip: IpAddr) -> Target {
        let bits = if ip.is_ipv4() { 32 } else { 128 };
        Target::Addr {
            addr: block(ip, bits),
            ports: (0, u16::MAX),
        }
    }

    /// Any address, any port.
    pub fn any() -> Target {
        Target::Addr {
            addr: AddrMatch::Any,
            ports: (0, u16::MAX),
        }
    }
}

#[cfg(test)]
mod tests;
