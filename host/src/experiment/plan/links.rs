//! The links of an experiment file: each client wired to one server of its
//! transport, and what its link does to each direction, checked against
//! that transport.

use std::ops::Range;
use std::time::Duration;

use anyhow::Result;
use socklab_relay::{TcpImpairments, UdpImpairments};
use socklab_sim::LinkModels;
use toml::Spanned;

use super::models::sim_models;
use super::nodes::{Nodes, PendingClient};
use super::{ClientNode, Impairments, ServerNode, Source};
use crate::experiment::file::{FileDoc, FileError, ImpairDoc, LinkDoc};
use crate::roles::Transport;

/// Wire every client of `nodes` by `doc`'s links: the servers and the
/// clients, each with its server and impairments. A client without a link,
/// or with two, is an error; so is a relay's own key on the `simulated`
/// network, which has no relays.
pub fn wire(
    source: &Source<'_>,
    doc: &FileDoc,
    mut nodes: Nodes,
    simulated: bool,
) -> Result<(Vec<ServerNode>, Vec<ClientNode>)> {
    let mut clients: Vec<ClientNode> = Vec::new();
    for link in &doc.links {
        let span = link.span();
        let link = link.get_ref();
        let from = node_ref(source, doc, &link.from, "client")?;
        let to = node_ref(source, doc, &link.to, "server")?;
        let Some(&server) = nodes.server_index.get(&to) else {
            return Err(source.fail(FileError::at(
                link.to.span(),
                format!("`@{to}` is a client; a link goes from a client to a server"),
            )));
        };
        let Some(pending) = nodes.clients.remove(&from) else {
            let message = if clients.iter().any(|c| c.name == from) {
                format!("`@{from}` already has a link; a client is wired to one server")
            } else {
                format!("`@{from}` is a server; a link goes from a client to a server")
            };
            return Err(source.fail(FileError::at(link.from.span(), message)));
        };
        let at = |s: Range<usize>, m: String| source.fail(FileError::at(s, m));
        let server_node = &nodes.servers[server];
        check_fits(&pending, server_node, &from).map_err(|m| at(link.from.span(), m))?;
        let transport = pending.spec.guest.role.transport;
        let names = (from.as_str(), to.as_str());
        let (impairments, models) = impairments(link, transport, names, span.clone(), simulated)
            .map_err(|(s, m)| at(s, m))?;
        clients.push(ClientNode {
            name: from,
            spec: pending.spec,
            numbered: pending.numbered,
            instances: pending.instances,
            server,
            transport,
            impairments,
            models,
        });
    }
    if let Some((name, pending)) = nodes.clients.into_iter().next() {
        return Err(source.fail(FileError::at(
            pending.span,
            format!(
                "client node `{name}` has no link; add a [[links]] entry with from = \"@{name}\""
            ),
        )));
    }
    Ok((nodes.servers, clients))
}

/// The node a link's `from` or `to` names, as `@name`.
fn node_ref(
    source: &Source<'_>,
    doc: &FileDoc,
    field: &Spanned<String>,
    what: &str,
) -> Result<String> {
    let text = field.get_ref();
    let message = match text.strip_prefix('@') {
        Some(name) if doc.nodes.contains_key(name) => return Ok(name.to_string()),
        Some(name) => format!(
            "no node is named `{name}`; the nodes are {}",
            doc.nodes
                .keys()
                .map(|k| format!("@{k}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => format!("write the {what} node as `@name`, not `{text}`"),
    };
    Err(source.fail(FileError::at(field.span(), message)))
}

/// A client fits its server: the same transport, and UDP messages no
/// larger than a datagram.
fn check_fits(pending: &PendingClient, server: &ServerNode, from: &str) -> Result<(), String> {
    let transport = pending.spec.guest.role.transport;
    let server_transport = server.spec.guest.role.transport;
    if transport != server_transport {
        return Err(format!(
            "`@{from}` speaks {transport} but `@{}` speaks {server_transport}",
            server.name
        ));
    }
    let max = crate::limits::max_datagram(server.spec.listen.is_ipv4());
    let messages = &pending.spec.messages;
    match messages.iter().position(|m| m.len() > max) {
        Some(i) if transport == Transport::Udp => Err(format!(
            "message {} of `@{from}` is {} bytes, more than one UDP datagram carries ({max} bytes)",
            i + 1,
            messages[i].len()
        )),
        _ => Ok(()),
    }
}

/// Each direction's simulated-network models (to the server, to the
/// client).
type Models = [LinkModels; 2];

/// What `link` does to each direction, as the relay of `transport` takes
/// it; a field the transport does not have is an error at its table, and so
/// on the `simulated` network is a TCP relay's own knob, and on the real
/// network a simulated-network model (with each direction's `loss_burst`,
/// `distribution`, `corrupt`, `queue_bytes` and `mtu`).
fn impairments(
    link: &LinkDoc,
    transport: Transport,
    (from, to): (&str, &str),
    span: Range<usize>,
    simulated: bool,
) -> Result<(Impairments, Models), (Range<usize>, String)> {
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
            Transport::Udp => tcp_only.clone(),
        };
        let at = || {
            [own, &link.both]
                .into_iter()
                .flatten()
                .map(|s| s.span())
                .next()
                .unwrap_or(span.clone())
        };
        if let Some(field) = wrong.first() {
            return Err((
                at(),
                format!(
                    "`{field}` does not apply to a {transport} link (`@{from}` → `@{to}`); see docs/lab.md's impairment tables"
                ),
            ));
        }
        if let (true, Some(field)) = (simulated, tcp_only.first()) {
            return Err((at(), relay_only(field, from, to)));
        }
        if let (false, Some(field)) = (simulated, merged.simulated_only_fields().first()) {
            return Err((at(), simulated_only(field, from, to)));
        }
        directions.push(merged);
    }
    let (to_server, to_client) = (&directions[0], &directions[1]);
    let models = [sim_models(to_server), sim_models(to_client)];
    let models = match models {
        [Ok(up), Ok(down)] => [up, down],
        [Err(e), _] | [_, Err(e)] => return Err((span, format!("link `@{from}` → `@{to}`: {e}"))),
    };
    let checked = match transport {
        Transport::Udp => {
            let (to_server, to_client) = (udp_impairments(to_server), udp_impairments(to_client));
            to_server
                .validate()
                .and(to_client.validate())
                .map(|()| Impairments::Udp {
                    to_server,
                    to_client,
                })
        }
        Transport::Tcp => {
            let (to_server, to_client) = (tcp_impairments(to_server), tcp_impairments(to_client));
            to_server
                .validate()
                .and(to_client.validate())
                .map(|()| Impairments::Tcp {
                    to_server,
                    to_client,
                })
        }
    };
    checked
        .map(|i| (i, models))
        .map_err(|e| (span, format!("link `@{from}` → `@{to}`: {e}")))
}

/// Why the TCP relay's own knob `field` cannot be honoured on the
/// simulated network: there is no relay there, the link carries the stack's
/// segments themselves.
fn relay_only(field: &str, from: &str, to: &str) -> String {
    let why = match field {
        "rto" => {
            "it is the relay's stand-in for a retransmission timeout, and on the simulated network TCP's own RTO applies (a lost segment is retransmitted for real)"
        }
        "slice" => {
            "it is how the relay cuts what it forwards, and on the simulated network the stack's own segments cross the link"
        }
        _ => "it is an action of the relay's, and the simulated network has no relay",
    };
    format!(
        "`{field}` (link `@{from}` → `@{to}`) cannot apply on the simulated network: {why}; drop it (see examples/sim/) or run on the real network"
    )
}

/// Why a simulated-network model `field` cannot apply on the real network:
/// the relays draw each datagram or segment on its own.
fn simulated_only(field: &str, from: &str, to: &str) -> String {
    format!(
        "`{field}` (link `@{from}` → `@{to}`) cannot apply on the real network: its relays have no such model; drop it or add network = \"simulated\" (see docs/simulated.md's link models)"
    )
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
