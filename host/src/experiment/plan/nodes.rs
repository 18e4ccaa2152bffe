//! The nodes of an experiment file: each guest loaded and its role
//! checked, a server's listen address, a client's messages, timeout and
//! instances, and every node's rules and limits.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;

use super::{ServerNode, Source};
use crate::exchange::{ClientSpec, ServerSpec};
use crate::experiment::file::{FileDoc, FileError, MessagesDoc, NodeDoc};
use crate::experiment::messages::{self, Messages};
use crate::grants::UserRules;
use crate::grants::rules::{Origin, parse as parse_rule};
use crate::limits::Limits;
use crate::roles::{Side, Transport};
use crate::runtime::{Guest, Runtime};

/// A client node read, waiting for its link.
pub struct PendingClient {
    pub spec: ClientSpec,
    /// Whether its messages carry sequence numbers.
    pub numbered: bool,
    pub instances: u32,
    /// Where its table is, for an error that it has no link.
    pub span: Range<usize>,
}

/// The nodes of a file, servers first placed.
pub struct Nodes {
    pub servers: Vec<ServerNode>,
    /// Each server's index in `servers`, by name.
    pub server_index: BTreeMap<String, usize>,
    pub clients: BTreeMap<String, PendingClient>,
}

/// Read every node of `doc`; `cap` is `--count`.
pub fn read(
    runtime: &Runtime,
    source: &Source<'_>,
    doc: &FileDoc,
    base: &Path,
    cap: Option<usize>,
) -> Result<Nodes> {
    let mut nodes = Nodes {
        servers: Vec::new(),
        server_index: BTreeMap::new(),
        clients: BTreeMap::new(),
    };
    for (name, node) in &doc.nodes {
        let span = node.span();
        let at = |message: String| source.fail(FileError::at(span.clone(), message));
        let node = node.get_ref();
        let guest = guest_of(runtime, name, node).map_err(&at)?;
        match guest.role.side {
            Side::Server => {
                let spec = server_spec(name, node, guest).map_err(&at)?;
                nodes.server_index.insert(name.clone(), nodes.servers.len());
                nodes.servers.push(ServerNode {
                    name: name.clone(),
                    spec,
                });
            }
            Side::Client => {
                let messages = doc.messages.as_ref();
                let client =
                    client_of(source, name, node, guest, messages, base, cap, span.clone())?;
                nodes.clients.insert(name.clone(), client);
            }
        }
    }
    Ok(nodes)
}

/// The node's guest, loaded, its role as the node says if it says one.
fn guest_of(runtime: &Runtime, name: &str, node: &NodeDoc) -> Result<Arc<Guest>, String> {
    let guest = runtime
        .load(&node.guest)
        .map_err(|e| format!("node `{name}`: {}", one_line(&e)))?;
    let Some(role) = &node.role else {
        return Ok(guest);
    };
    let side = guest.role.side;
    let matches = match role.as_str() {
        "server" => side == Side::Server,
        "client" => side == Side::Client,
        other => {
            return Err(format!(
                "node `{name}`: role `{other}` is neither `server` nor `client`"
            ));
        }
    };
    if !matches {
        return Err(format!(
            "node `{name}`: says role `{role}` but guest {} is a {} guest",
            guest.name, guest.role
        ));
    }
    Ok(guest)
}

/// A server node's spec; client-only fields are errors.
fn server_spec(name: &str, node: &NodeDoc, guest: Arc<Guest>) -> Result<ServerSpec, String> {
    for (set, field) in [
        (node.timeout.is_some(), "timeout"),
        (node.instances.is_some(), "instances"),
        (node.messages.is_some(), "messages"),
    ] {
        if set {
            return Err(format!(
                "node `{name}`: `{field}` is for clients, and {} is a server",
                guest.name
            ));
        }
    }
    let listen: SocketAddr = node
        .listen
        .unwrap_or_else(|| "127.0.0.1:0".parse().unwrap());
    let mut spec = ServerSpec::new(guest, listen);
    spec.params = node.params.clone().into_iter().collect();
    spec.rules = rules_of(node).map_err(|e| format!("node `{name}`: {e}"))?;
    spec.limits = limits_of(node);
    Ok(spec)
}

/// A client node: its spec (messages its own or the file's), whether they
/// are numbered, its instances.
#[allow(clippy::too_many_arguments)]
fn client_of(
    source: &Source<'_>,
    name: &str,
    node: &NodeDoc,
    guest: Arc<Guest>,
    defaults: Option<&MessagesDoc>,
    base: &Path,
    cap: Option<usize>,
    span: Range<usize>,
) -> Result<PendingClient> {
    let at = |message: String| source.fail(FileError::at(span.clone(), message));
    if node.listen.is_some() {
        return Err(at(format!(
            "node `{name}`: `listen` is for servers; a client is wired by a [[links]] entry"
        )));
    }
    let doc = node
        .messages
        .clone()
        .or_else(|| defaults.cloned())
        .unwrap_or(MessagesDoc {
            inline: None,
            file: None,
            count: None,
            size: None,
        });
    let Messages { bytes, numbered } =
        messages::resolve(&doc, base, cap, span.clone()).map_err(|e| {
            source.fail(FileError {
                message: format!("node `{name}`: {}", e.message),
                span: e.span,
            })
        })?;
    let mut spec = ClientSpec::new(guest, bytes);
    spec.timeout_ms = node
        .timeout
        .map_or(2_000, |t| t.0.as_millis().clamp(1, u32::MAX as u128) as u32);
    spec.params = node.params.clone().into_iter().collect();
    // A UDP client that can match replies by number (the bundled one) then
    // reads a stale or duplicate reply as what it is.
    let udp = spec.guest.role.transport == Transport::Udp;
    if udp && numbered && !spec.params.iter().any(|(k, _)| k == "match") {
        spec.params.push(("match".into(), "seq".into()));
    }
    spec.rules = rules_of(node).map_err(|e| at(format!("node `{name}`: {e}")))?;
    spec.limits = limits_of(node);
    Ok(PendingClient {
        spec,
        numbered,
        instances: node.instances.map_or(1, |n| n.0 as u32),
        span,
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

/// An error's whole chain on one line.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}
