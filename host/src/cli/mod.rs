//! The commands: how each one drives the library. `main.rs` parses the
//! command line ([`args`]) and calls [`run`].

mod args;
pub mod interrupt;
pub mod usage;

use std::sync::Arc;

use anyhow::Result;

pub use self::args::{Cli, Command, ParamArgs, SandboxArgs, ScriptArgs};
use crate::audit::Audit;
use crate::bad_input;
use crate::cache::Cache;
use crate::exchange::{self, ClientSpec, ServerSpec};
use crate::grants::UserRules;
use crate::lab::Lab;
use crate::limits::Limits;
use crate::report::{EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, Expect, Report, Run};
use crate::roles::{Role, Side, Transport};
use crate::{output, say};
pub use interrupt::Interrupt;

/// Messages used when none are given.
const DEFAULT_MESSAGES: [&str; 3] = ["hello", "how are you?", "bye"];

/// Run the parsed command; the result is the process's exit code.
pub async fn run(cli: Cli) -> Result<i32> {
    // Caught before anything else happens; a signal ends the process at once
    // until a command has something to report.
    let interrupt = Interrupt::install()?;
    crate::limits::raise_open_file_limit();
    let mut lab = Lab::new(cli.guest_dir.clone())?;
    lab.verbose = cli.verbose;
    if let Some(path) = &cli.audit {
        let audit = match Audit::create(path) {
            Ok(audit) => audit,
            Err(e) => bad_input!("{e:#}; give a writable path to --audit"),
        };
        audit.start()?;
        lab.audit = Some(audit);
    }
    if !cli.no_cache {
        // Without a usable cache directory socklab still runs, compiling
        // each time.
        lab.cache = Cache::default_dir().and_then(|dir| Cache::open(dir).ok());
    }
    let lab = Arc::new(lab);
    let code = dispatch(&lab, cli, &interrupt).await?;
    Ok(with_audit_checked(&lab, code))
}

/// The command's exit code, or 1 when the audit file could not be written
/// whole (said on stderr, naming the file), unless it was interrupted.
fn with_audit_checked(lab: &Lab, code: i32) -> i32 {
    let Some(audit) = &lab.audit else {
        return code;
    };
    audit.flush();
    match audit.failed() {
        Some(why) => {
            say!("error: {why}");
            if code == EXIT_INTERRUPTED {
                code
            } else {
                EXIT_FAILED
            }
        }
        None => code,
    }
}

async fn dispatch(lab: &Arc<Lab>, cli: Cli, interrupt: &Interrupt) -> Result<i32> {
    let report = match cli.command {
        Command::Demo => {
            interrupt.graceful();
            demo(lab, interrupt).await?
        }
        Command::Serve {
            guest,
            listen,
            max_sessions,
            params,
            sandbox,
        } => {
            let guest = lab.load(&guest)?;
            require_side(&guest.name, guest.role, Side::Server, "serve")?;
            let spec = ServerSpec {
                guest,
                listen,
                max_sessions,
                params: params.params,
                rules: sandbox.rules(&[], &[]),
                limits: sandbox.limits(),
            };
            // Graceful before the guest starts: whoever reads `listening on`
            // may signal at once.
            interrupt.graceful();
            Report::new(vec![serve(lab, spec, interrupt).await])
        }
        Command::Connect {
            guest,
            to,
            script,
            params,
            sandbox,
        } => {
            let guest = lab.load(&guest)?;
            require_side(&guest.name, guest.role, Side::Client, "connect")?;
            if sandbox.max_connections.is_some() {
                bad_input!(
                    "--max-connections limits a server's accepted connections, and `connect` runs a client; drop the flag"
                );
            }
            let transport = guest.role.transport;
            let rules = sandbox.rules(&[], &[]);
            let spec = client_spec(guest, script, params, rules, sandbox.limits(), Some(to))?;
            interrupt.graceful();
            let client = exchange::run_client_until(lab, &spec, to, interrupt.requested()).await;
            Report::new(vec![Run {
                transport,
                server: None,
                client: Some(client),
            }])
        }
        Command::Exchange {
            server,
            client,
            listen,
            script,
            params,
            sandbox,
            server_allow,
            server_deny,
            client_allow,
            client_deny,
        } => {
            let server = lab.load(&server)?;
            require_side(&server.name, server.role, Side::Server, "--server")?;
            let client = lab.load(&client)?;
            require_side(&client.name, client.role, Side::Client, "--client")?;
            if server.role.transport != client.role.transport {
                bad_input!(
                    "server {} speaks {} but client {} speaks {}; pick two guests of one transport",
                    server.name,
                    server.role.transport,
                    client.name,
                    client.role.transport
                );
            }
            let server = ServerSpec {
                guest: server,
                listen,
                max_sessions: None,
                params: params.params.clone(),
                rules: sandbox.rules(&server_allow, &server_deny),
                limits: sandbox.limits(),
            };
            let client_rules = sandbox.rules(&client_allow, &client_deny);
            let client = client_spec(
                client,
                script,
                params,
                client_rules,
                sandbox.limits(),
                Some(listen),
            )?;
            interrupt.graceful();
            let run = exchange::exchange_until(lab, server, client, interrupt.requested()).await;
            Report::new(vec![run])
        }
        Command::Guests => {
            guests(lab, cli.json)?;
            return Ok(EXIT_OK);
        }
        Command::Run {
            command,
            env,
            dirs,
            sandbox,
            args,
        } => {
            let spec = crate::command::CommandSpec {
                guest: command,
                args,
                env,
                dirs,
                rules: sandbox.rules(&[], &[]),
                limits: sandbox.limits(),
                capture_output: cli.json,
            };
            interrupt.graceful();
            let run = crate::command::run_command(lab, spec, interrupt.requested()).await?;
            for note in run.notes() {
                say!("{note}");
            }
            if cli.json {
                output::stdout_line(&serde_json::to_string_pretty(&run)?);
            }
            return Ok(run.exit_code);
        }
        Command::Lab {
            file,
            out,
            pcap,
            seed,
            count,
            repeats,
            no_chart,
        } => {
            let overrides = crate::experiment::plan::Overrides {
                seed,
                count: count.map(|c| c as usize),
                repeats,
            };
            let options = crate::experiment::LabOptions {
                out,
                pcap,
                chart: !no_chart,
                json: cli.json,
            };
            let plan = crate::experiment::plan::load(lab, &file, &overrides)?;
            interrupt.graceful();
            return crate::experiment::run_plan(lab, plan, options, interrupt.requested()).await;
        }
        Command::Bench { quick, only } => {
            let options = crate::bench::Options {
                quick,
                only,
                guest_dir: cli.guest_dir.clone(),
                socklab_exe: std::env::current_exe().ok(),
            };
            interrupt.graceful();
            let bench = crate::bench::run(options, interrupt.requested()).await?;
            if cli.json {
                output::stdout_line(&serde_json::to_string_pretty(&bench)?);
            } else {
                output::stdout(&bench.table());
            }
            return Ok(if bench.interrupted {
                EXIT_INTERRUPTED
            } else {
                EXIT_OK
            });
        }
        Command::Inspect { guest } => {
            let inspection = crate::inspect::inspect(lab, &guest)?;
            if cli.json {
                output::stdout_line(&serde_json::to_string_pretty(&inspection)?);
            } else {
                output::stdout(&inspection.text());
            }
            return Ok(EXIT_OK);
        }
    };
    if cli.json {
        output::stdout_line(&report.to_json());
    } else {
        output::stdout(&report.transcript());
    }
    Ok(report.exit_code())
}

/// `socklab demo`: one TCP and one UDP exchange between the bundled guests.
/// Ctrl-C stops the exchange under way and skips the next.
async fn demo(lab: &Arc<Lab>, interrupt: &Interrupt) -> Result<Report> {
    let mut runs = Vec::new();
    for (server, client) in [
        ("tcp-echo-server", "tcp-client"),
        ("udp-echo-server", "udp-client"),
    ] {
        if interrupt.is_requested() {
            break;
        }
        let server = ServerSpec::new(lab.load(server)?, "127.0.0.1:0".parse().unwrap());
        let messages = DEFAULT_MESSAGES
            .iter()
            .map(|m| m.as_bytes().to_vec())
            .collect();
        let mut client = ClientSpec::new(lab.load(client)?, messages);
        client.expect = Expect::Echo;
        runs.push(exchange::exchange_until(lab, server, client, interrupt.requested()).await);
    }
    Ok(Report::new(runs))
}

/// `socklab serve`: print `listening on ADDR` on stderr as soon as the guest
/// listens, then serve until Ctrl-C, SIGTERM or the session limit.
async fn serve(lab: &Arc<Lab>, spec: ServerSpec, interrupt: &Interrupt) -> Run {
    let transport = spec.guest.role.transport;
    let running = match exchange::start_server(lab, spec).await {
        Ok(running) => running,
        Err(record) => {
            return Run {
                transport,
                server: Some(*record),
                client: None,
            };
        }
    };
    say!("listening on {}", running.addr);
    let record = running.finish(interrupt.requested()).await;
    Run {
        transport,
        server: Some(record),
        client: None,
    }
}

/// One row of `socklab guests`.
#[derive(serde::Serialize)]
struct Listed {
    name: &'static str,
    /// `server`, `client`, `command`, or `none`.
    role: &'static str,
    /// `tcp`, `udp`, `any` (a command) or `-`.
    transport: &'static str,
    /// `rust` or `python`.
    language: &'static str,
    path: String,
    about: &'static str,
}

/// `socklab guests`: the bundled guests (and the Python ones, once built),
/// with the role each one's exports declare.
fn guests(lab: &Lab, json: bool) -> Result<()> {
    let bundled = lab.bundled();
    if bundled.is_empty() {
        bad_input!(
            "no bundled guests found; build them with `cargo build --release` or set --guest-dir"
        );
    }
    let mut rows = Vec::new();
    for (guest, path) in bundled {
        let kind = crate::inspect::inspect(lab, &path.display().to_string())?.kind;
        let (role, transport) = match kind.split_once('-') {
            Some(("tcp", "server")) => ("server", "tcp"),
            Some(("tcp", "client")) => ("client", "tcp"),
            Some(("udp", "server")) => ("server", "udp"),
            Some(("udp", "client")) => ("client", "udp"),
            _ if kind.contains("wasi:cli") => ("command", "any"),
            _ => ("none", "-"),
        };
        rows.push(Listed {
            name: guest.name,
            role,
            transport,
            language: guest.language,
            path: path.display().to_string(),
            about: guest.about,
        });
    }
    if json {
        let doc = serde_json::json!({
            "socklab": crate::report::SOCKLAB_VERSION,
            "wasmtime": crate::report::WASMTIME_VERSION,
            "guests": rows,
        });
        output::stdout_line(&serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    let mut text = format!(
        "{:<20} {:<7} {:<9} path  language  (what it does)\n",
        "name", "role", "transport"
    );
    for r in rows {
        text.push_str(&format!(
            "{:<20} {:<7} {:<9} {}  {}  ({})\n",
            r.name, r.role, r.transport, r.path, r.language, r.about
        ));
    }
    output::stdout(&text);
    Ok(())
}

fn client_spec(
    guest: Arc<crate::lab::Guest>,
    script: ScriptArgs,
    params: ParamArgs,
    rules: UserRules,
    limits: Limits,
    server: Option<std::net::SocketAddr>,
) -> Result<ClientSpec> {
    let messages: Vec<Vec<u8>> = if script.messages.is_empty() {
        DEFAULT_MESSAGES
            .iter()
            .map(|m| m.as_bytes().to_vec())
            .collect()
    } else {
        script
            .messages
            .into_iter()
            .map(String::into_bytes)
            .collect()
    };
    if guest.role.transport == Transport::Udp {
        let max = crate::limits::max_datagram(server.is_none_or(|s| s.is_ipv4()));
        if let Some((i, m)) = messages.iter().enumerate().find(|(_, m)| m.len() > max) {
            bad_input!(
                "--message {} is {} bytes, more than one UDP datagram carries ({max} bytes); send it in smaller messages",
                i + 1,
                m.len()
            );
        }
    }
    Ok(ClientSpec {
        guest,
        messages,
        timeout_ms: script.timeout_ms,
        params: params.params,
        expect: script.expect,
        rules,
        limits,
    })
}

fn require_side(name: &str, role: Role, side: Side, what: &str) -> Result<()> {
    if role.side != side {
        let wanted = match side {
            Side::Server => "a server (tcp-server or udp-server)",
            Side::Client => "a client (tcp-client or udp-client)",
        };
        bad_input!(
            "guest {name} is a {role} guest, but {what} needs {wanted}; see `socklab guests`"
        );
    }
    Ok(())
}
