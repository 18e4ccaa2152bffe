//! From an experiment file to a plan: every guest loaded and checked, every
//! `@name` resolved, every impairment checked against its link's transport.
//! Whatever is wrong becomes one line naming the file, the line and the field.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use sha2::{Digest, Sha256};
use socklab_relay::{TcpImpairments, UdpImpairments};

use super::file::{self, FileError, ImpairDoc, MAX_MESSAGES, MessagesDoc, NodeDoc};
use super::messages::{self, Messages};
use crate::bad_input;
use crate::exchange::{ClientSpec, ServerSpec};
use crate::grants::UserRules;
use crate::input::{MAX_EXPERIMENT, read_capped};
use crate::lab::{Lab, hex};
use crate::limits::Limits;
use crate::roles::{Side, Transport};
use crate::rules::{Origin, parse as parse_rule};

/// What the command line may change in a file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--count`: at most this many messages per client.
    pub count: Option<usize>,
    /// `--repeats`.
    pub repeats: Option<u32>,
}

/// An experiment ready to run.
pub struct Plan {
    pub path: PathBuf,
    /// SHA-256 of the file, hex: the report names exactly what ran.
    pub sha256: String,
    pub name: String,
    pub seed: u64,
    pub repeats: u32,
    pub servers: Vec<ServerNode>,
    pub clients: Vec<ClientNode>,
}

/// A server node.
pub struct ServerNode {
    pub name: String,
    pub spec: ServerSpec,
}

/// A client node and its link.
pub struct ClientNode {
    pub name: String,
    pub spec: ClientSpec,
    /// Whether the messages carry sequence numbers.
    pub numbered: bool,
    pub instances: u32,
    /// Index into [`Plan::servers`].
    pub server: usize,
    pub transport: Transport,
    /// What its link does to each direction.
    pub impairments: Impairments,
}

/// A link's impairments, per direction, as the relay of its transport takes
/// them.
#[derive(Debug, Clone)]
pub enum Impairments {
    Udp {
        to_server: UdpImpairments,
        to_client: UdpImpairments,
    },
    Tcp {
        to_server: TcpImpairments,
        to_client: TcpImpairments,
    },
}

/// Read, parse and check `path`, loading its guests into `lab`.
pub fn load(lab: &Lab, path: &Path, overrides: &Overrides) -> Result<Plan> {
    let text = match read_capped(path, MAX_EXPERIMENT, "an experiment file") {
        Ok(bytes) => bytes,
        Err(e) => bad_input!("the experiment file {} {e}", path.display()),
    };
    let sha256 = hex(&Sha256::digest(&text));
    let Ok(text) = String::from_utf8(text) else {
        bad_input!(
            "{} is not UTF-8 text; an experiment file is TOML",
            path.display()
        );
    };
    let fail =
        |e: FileError| -> anyhow::Error { crate::error::BadInput(e.render(path, &text)).into() };
    let doc = file::parse(&text).map_err(fail)?;
    if doc.nodes.is_empty() {
        bad_input!(
            "{}: no nodes; add a [nodes.NAME] table for each guest (see examples/)",
            path.display()
        );
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let cap = overrides.count;
    let default_messages = doc.messages.clone();

    let mut servers = Vec::new();
    let mut server_index = BTreeMap::new();
    let mut pending_clients = BTreeMap::new();
    for (name, node) in &doc.nodes {
        let span = node.span();
        let node = node.get_ref();
        let guest = lab.load(&node.guest).map_err(|e| {
            fail(FileError::at(
                span.clone(),
                format!("node `{name}`: {}", one_line(&e)),
            ))
        })?;
        if let Some(role) = &node.role {
            let side = guest.role.side;
            let matches = match role.as_str() {
                "server" => side == Side::Server,
                "client" => side == Side::Client,
                other => {
                    return Err(fail(FileError::at(
                        span,
                        format!("node `{name}`: role `{other}` is neither `server` nor `client`"),
                    )));
                }
            };
            if !matches {
                return Err(fail(FileError::at(
                    span,
                    format!(
                        "node `{name}`: says role `{role}` but guest {} is a {} guest",
                        guest.name, guest.role
                    ),
                )));
            }
        }
        let node_error = |message: String| fail(FileError::at(span.clone(), message));
        let rules = rules_of(node).map_err(|e| node_error(format!("node `{name}`: {e}")))?;
        let limits = limits_of(node);
        let params: Vec<(String, String)> = node.params.clone().into_iter().collect();
        match guest.role.side {
            Side::Server => {
                for (set, field) in [
                    (node.timeout.is_some(), "timeout"),
                    (node.instances.is_some(), "instances"),
                    (node.messages.is_some(), "messages"),
                ] {
                    if set {
                        return Err(node_error(format!(
                            "node `{name}`: `{field}` is for clients, and {} is a server",
                            guest.name
                        )));
                    }
                }
                let listen: SocketAddr = node
                    .listen
                    .unwrap_or_else(|| "127.0.0.1:0".parse().unwrap());
                let mut spec = ServerSpec::new(guest, listen);
                spec.params = params;
                spec.rules = rules;
                spec.limits = limits;
                server_index.insert(name.clone(), servers.len());
                servers.push(ServerNode {
                    name: name.clone(),
                    spec,
                });
            }
            Side::Client => {
                if node.listen.is_some() {
                    return Err(node_error(format!(
                        "node `{name}`: `listen` is for servers; a client is wired by a [[links]] entry"
                    )));
                }
                let doc = node
                    .messages
                    .clone()
                    .or_else(|| default_messages.clone())
                    .unwrap_or(MessagesDoc {
                        inline: None,
                        file: None,
                        count: None,
                        size: None,
                    });
                let Messages { bytes, numbered } = messages::resolve(&doc, base, cap, span.clone())
                    .map_err(|e| {
                        fail(FileError {
                            message: format!("node `{name}`: {}", e.message),
                            span: e.span,
                        })
                    })?;
                let mut spec = ClientSpec::new(guest, bytes);
                spec.timeout_ms = node
                    .timeout
                    .map_or(2_000, |t| t.0.as_millis().clamp(1, u32::MAX as u128) as u32);
                spec.params = params;
                // A UDP client that can match replies by number (the bundled
                // one) then reads a stale or duplicate reply as what it is.
                let udp = spec.guest.role.transport == Transport::Udp;
                if udp && numbered && !spec.params.iter().any(|(k, _)| k == "match") {
                    spec.params.push(("match".into(), "seq".into()));
                }
                spec.rules = rules;
                spec.limits = limits;
                let instances = node.instances.map_or(1, |n| n.0 as u32);
                pending_clients.insert(name.clone(), (spec, numbered, instances, span));
            }
        }
    }

    let mut clients = Vec::new();
    for link in &doc.links {
        let link_span = link.span();
        let link = link.get_ref();
        let node_ref = |field: &toml::Spanned<String>, what: &str| {
            let text = field.get_ref();
            match text.strip_prefix('@') {
                Some(name) if doc.nodes.contains_key(name) => Ok(name.to_string()),
                Some(name) => Err(fail(FileError::at(
                    field.span(),
                    format!(
                        "no node is named `{name}`; the nodes are {}",
                        doc.nodes
                            .keys()
                            .map(|k| format!("@{k}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ))),
                None => Err(fail(FileError::at(
                    field.span(),
                    format!("write the {what} node as `@name`, not `{text}`"),
                ))),
            }
        };
        let from = node_ref(&link.from, "client")?;
        let to = node_ref(&link.to, "server")?;
        let Some(&server) = server_index.get(&to) else {
            return Err(fail(FileError::at(
                link.to.span(),
                format!("`@{to}` is a client; a link goes from a client to a server"),
            )));
        };
        let Some((spec, numbered, instances, _)) = pending_clients.remove(&from) else {
            let message = if clients.iter().any(|c: &ClientNode| c.name == from) {
                format!("`@{from}` already has a link; a client is wired to one server")
            } else {
                format!("`@{from}` is a server; a link goes from a client to a server")
            };
            return Err(fail(FileError::at(link.from.span(), message)));
        };
        let transport = spec.guest.role.transport;
        let server_transport = servers[server].spec.guest.role.transport;
        if transport != server_transport {
            return Err(fail(FileError::at(
                link_span,
                format!("`@{from}` speaks {transport} but `@{to}` speaks {server_transport}"),
            )));
        }
        let max = crate::limits::max_datagram(servers[server].spec.listen.is_ipv4());
        let too_big = spec.messages.iter().position(|m| m.len() > max);
        if let (Transport::Udp, Some(i)) = (transport, too_big) {
            return Err(fail(FileError::at(
                link.from.span(),
                format!(
                    "message {} of `@{from}` is {} bytes, more than one UDP datagram carries ({max} bytes)",
                    i + 1,
                    spec.messages[i].len()
                ),
            )));
        }
        let both = link.both.as_ref();
        let mut directions = Vec::new();
        for own in [&link.to_server, &link.to_client] {
            let merged = match (both, own) {
                (Some(b), Some(o)) => b.get_ref().overlay(o.get_ref()),
                (Some(b), None) => b.get_ref().clone(),
                (None, Some(o)) => o.get_ref().clone(),
                (None, None) => ImpairDoc::default(),
            };
            let (udp_only, tcp_only) = merged.transport_only_fields();
            let wrong = match transport {
                Transport::Tcp => udp_only,
                Transport::Udp => tcp_only,
            };
            if let Some(field) = wrong.first() {
                let span = [own, &link.both]
                    .into_iter()
                    .flatten()
                    .map(|s| s.span())
                    .next()
                    .unwrap_or(link_span.clone());
                return Err(fail(FileError::at(
                    span,
                    format!(
                        "`{field}` does not apply to a {transport} link (`@{from}` → `@{to}`); see the README's impairment table"
                    ),
                )));
            }
            directions.push(merged);
        }
        let (to_server, to_client) = (&directions[0], &directions[1]);
        let impairments = match transport {
            Transport::Udp => {
                let (to_server, to_client) =
                    (udp_impairments(to_server), udp_impairments(to_client));
                to_server
                    .validate()
                    .and(to_client.validate())
                    .map(|()| Impairments::Udp {
                        to_server,
                        to_client,
                    })
            }
            Transport::Tcp => {
                let (to_server, to_client) =
                    (tcp_impairments(to_server), tcp_impairments(to_client));
                to_server
                    .validate()
                    .and(to_client.validate())
                    .map(|()| Impairments::Tcp {
                        to_server,
                        to_client,
                    })
            }
        }
        .map_err(|e| {
            fail(FileError::at(
                link_span.clone(),
                format!("link `@{from}` → `@{to}`: {e}"),
            ))
        })?;
        clients.push(ClientNode {
            name: from,
            spec,
            numbered,
            instances,
            server,
            transport,
            impairments,
        });
    }
    if let Some((name, (_, _, _, span))) = pending_clients.into_iter().next() {
        return Err(fail(FileError::at(
            span,
            format!(
                "client node `{name}` has no link; add a [[links]] entry with from = \"@{name}\""
            ),
        )));
    }
    if clients.is_empty() {
        bad_input!(
            "{}: no links, so nothing would be exchanged; add a [[links]] entry from a client node to a server node",
            path.display()
        );
    }
    let repeats = overrides
        .repeats
        .unwrap_or(doc.repeats.map_or(1, |r| r.0 as u32));
    check_totals(path, &clients, repeats)?;
    Ok(Plan {
        path: path.to_path_buf(),
        sha256,
        name: doc.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map_or("experiment".into(), |s| s.to_string_lossy().into_owned())
        }),
        seed: overrides.seed.unwrap_or(doc.seed),
        repeats,
        servers,
        clients,
    })
}

fn rules_of(node: &NodeDoc) -> Result<UserRules, String> {
    let parse_all = |texts: &[String]| {
        texts
            .iter()
            .map(|t| parse_rule(t, Origin::Allow))
            .collect::<Result<Vec<_>, String>>()
    };
    let allow = parse_all(&node.allow)?;
    let deny = node
        .deny
        .iter()
        .map(|t| parse_rule(t, Origin::Deny))
        .collect::<Result<Vec<_>, String>>()?;
    Ok(UserRules { allow, deny })
}

fn limits_of(node: &NodeDoc) -> Limits {
    let mut limits = Limits::default();
    if let Some(memory) = node.memory_limit {
        limits.memory = memory.0;
    }
    if let Some(cpu) = node.cpu_limit {
        limits.cpu = cpu.0;
    }
    if let Some(deadline) = node.deadline {
        limits.deadline = Some(deadline.0);
    }
    limits
}

/// The most bytes of messages an experiment holds at once: every client
/// instance of a round gets its own copy.
pub const MAX_MESSAGE_BYTES: u64 = 256 << 20;

/// Refuse an experiment whose messages, over every instance and round,
/// would be more than socklab keeps (fates, report) or holds at once.
fn check_totals(path: &Path, clients: &[ClientNode], repeats: u32) -> Result<()> {
    let per_round: u64 = clients
        .iter()
        .map(|c| c.spec.messages.len() as u64 * u64::from(c.instances))
        .sum();
    let total = per_round * u64::from(repeats);
    if total > MAX_MESSAGES as u64 {
        bad_input!(
            "{}: {total} messages in all (messages × instances × repeats) is more than the {MAX_MESSAGES} an experiment may send; lower `count`, `instances` or `repeats`",
            path.display()
        );
    }
    let bytes: u64 = clients
        .iter()
        .map(|c| {
            c.spec.messages.iter().map(|m| m.len() as u64).sum::<u64>() * u64::from(c.instances)
        })
        .sum();
    if bytes > MAX_MESSAGE_BYTES {
        bad_input!(
            "{}: the clients' messages come to {} at once (size × count × instances), more than the {} socklab holds; send fewer or smaller messages",
            path.display(),
            crate::limits::show_size(bytes),
            crate::limits::show_size(MAX_MESSAGE_BYTES)
        );
    }
    Ok(())
}

/// An error's whole chain on one line.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

/// A UDP direction as the relay takes it.
pub fn udp_impairments(doc: &ImpairDoc) -> UdpImpairments {
    let defaults = UdpImpairments::default();
    UdpImpairments {
        loss: doc.loss.map_or(0.0, |p| p.0),
        duplicate: doc.duplicate.map_or(0.0, |p| p.0),
        reorder: doc.reorder.map_or(0.0, |p| p.0),
        reorder_delay: doc.reorder_delay.map_or(Duration::ZERO, |d| d.0),
        delay: doc.delay.map_or(Duration::ZERO, |d| d.0),
        jitter: doc.jitter.map_or(Duration::ZERO, |d| d.0),
        rate: doc.rate.map(|r| r.0),
        queue_limit: doc
            .queue_limit
            .map_or(defaults.queue_limit, |q| q.0 as usize),
    }
}

/// A TCP direction as the relay takes it.
pub fn tcp_impairments(doc: &ImpairDoc) -> TcpImpairments {
    let defaults = TcpImpairments::default();
    TcpImpairments {
        latency: doc.delay.map_or(Duration::ZERO, |d| d.0),
        jitter: doc.jitter.map_or(Duration::ZERO, |d| d.0),
        bandwidth: doc.rate.map(|r| r.0),
        slice: doc.slice.map(|s| s.0 as usize),
        reset_after: doc.reset_after.map(|s| s.0),
        stall_after: doc.stall_after.map(|s| s.0),
        stall_for: doc.stall_for.map_or(Duration::ZERO, |d| d.0),
        loss: doc.loss.map_or(0.0, |p| p.0),
        rto: doc.rto.map_or(defaults.rto, |d| d.0),
    }
}
