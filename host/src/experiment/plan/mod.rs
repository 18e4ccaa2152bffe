//! From an experiment file to a plan: every guest loaded and checked
//! ([`nodes`]), every `@name` resolved and every impairment checked against
//! its link's transport ([`links`]; the simulated network's own link
//! models in [`models`]). Whatever is wrong becomes one line naming the
//! file, the line and the field.

mod links;
mod models;
mod nodes;

use std::path::{Path, PathBuf};

use anyhow::Result;
use sha2::{Digest, Sha256};
use socklab_relay::{TcpImpairments, UdpImpairments};

use super::file::{self, FileError, MAX_MESSAGES};
use crate::bad_input;
use crate::exchange::{ClientSpec, ServerSpec};
use crate::input::{MAX_EXPERIMENT, read_capped};
use crate::roles::Transport;
use crate::runtime::Runtime;
use crate::version::hex;

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
    /// The experiment file.
    pub path: PathBuf,
    /// SHA-256 of the file, hex: the report names exactly what ran.
    pub sha256: String,
    /// The title: the file's `name`, or its stem.
    pub name: String,
    /// The seed every fate is drawn from (`--seed` or the file's).
    pub seed: u64,
    /// Rounds of the clients.
    pub repeats: u32,
    /// The server nodes, in name order.
    pub servers: Vec<ServerNode>,
    /// The client nodes, in link order.
    pub clients: Vec<ClientNode>,
}

/// A server node.
pub struct ServerNode {
    /// The title: the file's `name`, or its stem.
    pub name: String,
    /// How it runs.
    pub spec: ServerSpec,
}

/// A client node and its link.
pub struct ClientNode {
    /// The title: the file's `name`, or its stem.
    pub name: String,
    /// How each of its instances runs.
    pub spec: ClientSpec,
    /// Whether the messages carry sequence numbers.
    pub numbered: bool,
    /// Copies run at once, each on a link of its own.
    pub instances: u32,
    /// Index into [`Plan::servers`].
    pub server: usize,
    /// Its (and its server's) transport.
    pub transport: Transport,
    /// What its link does to each direction.
    pub impairments: Impairments,
    /// The simulated network's own link models, client → server then
    /// server → client: what the relays' `Impairments` do not have.
    pub models: [socklab_sim::LinkModels; 2],
}

/// A link's impairments, per direction, as the relay of its transport takes
/// them.
#[derive(Debug, Clone)]
pub enum Impairments {
    /// A UDP link: per-datagram impairments.
    Udp {
        /// Client → server.
        to_server: UdpImpairments,
        /// Server → client.
        to_client: UdpImpairments,
    },
    /// A TCP link: per-segment impairments.
    Tcp {
        /// Client → server.
        to_server: TcpImpairments,
        /// Server → client.
        to_client: TcpImpairments,
    },
}

/// An experiment file's text, for errors that name its lines.
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    /// `e` as bad input: one line naming the file, the line and the field.
    fn fail(&self, e: FileError) -> anyhow::Error {
        crate::error::BadInput(e.render(self.path, self.text)).into()
    }
}

/// Read, parse and check `path`, loading its guests into `runtime`.
pub fn load(runtime: &Runtime, path: &Path, overrides: &Overrides) -> Result<Plan> {
    let bytes = match read_capped(path, MAX_EXPERIMENT, "an experiment file") {
        Ok(bytes) => bytes,
        Err(e) => bad_input!("the experiment file {} {e}", path.display()),
    };
    let sha256 = hex(&Sha256::digest(&bytes));
    let Ok(text) = String::from_utf8(bytes) else {
        bad_input!(
            "{} is not UTF-8 text; an experiment file is TOML",
            path.display()
        );
    };
    let source = Source { path, text: &text };
    let doc = file::parse(&text).map_err(|e| source.fail(e))?;
    check_network(&source, &doc, runtime)?;
    if doc.nodes.is_empty() {
        bad_input!(
            "{}: no nodes; add a [nodes.NAME] table for each guest (see examples/)",
            path.display()
        );
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let nodes = nodes::read(runtime, &source, &doc, base, overrides.count)?;
    let simulated = runtime.flavor().name == crate::runtime::engine::SIMULATED.name;
    let (servers, clients) = links::wire(&source, &doc, nodes, simulated)?;
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

/// What an experiment file says of its network before anything is loaded:
/// its `network` (`true` for `"simulated"`) and its seed. `None` when the
/// file cannot be read or parsed ([`load`] then says why).
pub fn peek(path: &Path) -> Option<(Option<bool>, u64)> {
    let bytes = read_capped(path, MAX_EXPERIMENT, "an experiment file").ok()?;
    let doc = file::parse(std::str::from_utf8(&bytes).ok()?).ok()?;
    let simulated = doc
        .network
        .map(|n| *n.get_ref() == file::NetworkDoc::Simulated);
    Some((simulated, doc.seed))
}

/// A file that asks for the real network run with `--network simulated`
/// (or the other way round) is refused, naming the line.
fn check_network(source: &Source, doc: &file::FileDoc, runtime: &Runtime) -> Result<()> {
    let Some(network) = &doc.network else {
        return Ok(());
    };
    let simulated = runtime.flavor().name == crate::runtime::engine::SIMULATED.name;
    let wants_simulated = *network.get_ref() == file::NetworkDoc::Simulated;
    if simulated != wants_simulated {
        let (file, flag) = if wants_simulated {
            ("simulated", "real")
        } else {
            ("real", "simulated")
        };
        return Err(source.fail(FileError::at(
            network.span(),
            format!("the file asks for the {file} network but --network says {flag}; drop one of the two"),
        )));
    }
    Ok(())
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
