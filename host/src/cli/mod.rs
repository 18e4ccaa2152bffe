//! The commands: how each one drives the library. `main.rs` parses the
//! command line ([`args`]) and calls [`run`].

mod args;

use std::sync::Arc;

use anyhow::{Context, Result};

pub use self::args::{Cli, Command, ParamArgs, SandboxArgs, ScriptArgs};
use crate::audit::Audit;
use crate::bad_input;
use crate::cache::Cache;
use crate::exchange::{self, ClientSpec, ServerSpec};
use crate::grants::UserRules;
use crate::lab::Lab;
use crate::limits::Limits;
use crate::report::{Expect, Report, Run};
use crate::roles::{Role, Side};

/// Messages used when none are given.
const DEFAULT_MESSAGES: [&str; 3] = ["hello", "how are you?", "bye"];

/// Run the parsed command; the result is the process's exit code.
pub async fn run(cli: Cli) -> Result<i32> {
    crate::limits::raise_open_file_limit();
    let mut lab = Lab::new(cli.guest_dir.clone())?;
    lab.verbose = cli.verbose;
    if let Some(path) = &cli.audit {
        match Audit::create(path) {
            Ok(audit) => lab.audit = Some(audit),
            Err(e) => bad_input!("{e:#}; give a writable path to --audit"),
        }
    }
    if !cli.no_cache {
        // Without a usable cache directory socklab still runs, compiling
        // each time.
        lab.cache = Cache::default_dir().and_then(|dir| Cache::open(dir).ok());
    }
    let lab = Arc::new(lab);
    let report = match cli.command {
        Command::Demo => demo(&lab).await?,
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
            Report::new(vec![serve(&lab, spec).await?])
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
            let spec = client_spec(guest, script, params, rules, sandbox.limits());
            let client = exchange::run_client(&lab, &spec, to).await;
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
            let client = client_spec(client, script, params, client_rules, sandbox.limits());
            Report::new(vec![exchange::exchange(&lab, server, client).await])
        }
        Command::Guests => {
            guests(&lab)?;
            return Ok(0);
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
            };
            let code = crate::command::run_command(&lab, spec).await?;
            if let Some(audit) = &lab.audit {
                audit.flush();
            }
            return Ok(code);
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
            // Ctrl-C or SIGTERM ends the run early with a report of what
            // finished; caught before anything starts.
            let shutdown = Shutdown::install()?;
            return crate::experiment::run_file(
                &lab,
                &file,
                &overrides,
                options,
                shutdown.requested(),
            )
            .await;
        }
        Command::Bench { quick, only } => {
            let options = crate::bench::Options {
                quick,
                only,
                guest_dir: cli.guest_dir.clone(),
                socklab_exe: std::env::current_exe().ok(),
            };
            let bench = crate::bench::run(options).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&bench)?);
            } else {
                print!("{}", bench.table());
            }
            return Ok(0);
        }
        Command::Inspect { guest } => {
            let inspection = crate::inspect::inspect(&lab, &guest)?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&inspection)?);
            } else {
                print!("{}", inspection.text());
            }
            return Ok(0);
        }
    };
    if let Some(audit) = &lab.audit {
        audit.flush();
    }
    if cli.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.transcript());
    }
    Ok(report.exit_code())
}

/// `socklab demo`: one TCP and one UDP exchange between the bundled guests.
async fn demo(lab: &Arc<Lab>) -> Result<Report> {
    let mut runs = Vec::new();
    for (server, client) in [
        ("tcp-echo-server", "tcp-client"),
        ("udp-echo-server", "udp-client"),
    ] {
        let server = ServerSpec::new(lab.load(server)?, "127.0.0.1:0".parse().unwrap());
        let messages = DEFAULT_MESSAGES
            .iter()
            .map(|m| m.as_bytes().to_vec())
            .collect();
        let mut client = ClientSpec::new(lab.load(client)?, messages);
        client.expect = Expect::Echo;
        runs.push(exchange::exchange(lab, server, client).await);
    }
    Ok(Report::new(runs))
}

/// `socklab serve`: print `listening on ADDR` on stderr as soon as the guest
/// listens, then serve until Ctrl-C, SIGTERM or the session limit.
async fn serve(lab: &Arc<Lab>, spec: ServerSpec) -> Result<Run> {
    // Catch the signals before anyone can learn the address and send one.
    let shutdown = Shutdown::install()?;
    let transport = spec.guest.role.transport;
    let running = match exchange::start_server(lab, spec).await {
        Ok(running) => running,
        Err(record) => {
            return Ok(Run {
                transport,
                server: Some(*record),
                client: None,
            });
        }
    };
    eprintln!("listening on {}", running.addr);
    let record = running.finish(shutdown.requested()).await;
    Ok(Run {
        transport,
        server: Some(record),
        client: None,
    })
}

/// Ctrl-C and SIGTERM, caught from the moment this is made.
struct Shutdown {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Shutdown {
    fn install() -> Result<Shutdown> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Shutdown {
            interrupt: signal(SignalKind::interrupt()).context("installing a Ctrl-C handler")?,
            terminate: signal(SignalKind::terminate()).context("installing a SIGTERM handler")?,
        })
    }

    /// Resolves on the first Ctrl-C or SIGTERM; a second Ctrl-C then exits
    /// at once.
    async fn requested(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        eprintln!("stopping (press Ctrl-C again to force)");
        let mut interrupt = self.interrupt;
        tokio::spawn(async move {
            interrupt.recv().await;
            eprintln!("forced stop");
            std::process::exit(130);
        });
    }
}

/// `socklab guests`: the bundled guests, with the role each one's exports
/// declare.
fn guests(lab: &Lab) -> Result<()> {
    let bundled = lab.bundled();
    if bundled.is_empty() {
        bad_input!(
            "no bundled guests found; build them with `cargo build --release` or set --guest-dir"
        );
    }
    println!(
        "{:<20} {:<7} {:<9} path  (what it does)",
        "name", "role", "transport"
    );
    for (bundled, path) in bundled {
        let kind = crate::inspect::inspect(lab, &path.display().to_string())?.kind;
        let (side, transport) = match kind.split_once('-') {
            Some((transport, side)) if ["tcp", "udp"].contains(&transport) => (side, transport),
            _ if kind.contains("wasi:cli") => ("command", "any"),
            _ => ("none", "-"),
        };
        let name = bundled.name;
        println!(
            "{name:<20} {side:<7} {transport:<9} {}  ({})",
            path.display(),
            bundled.about
        );
    }
    Ok(())
}

fn client_spec(
    guest: Arc<crate::lab::Guest>,
    script: ScriptArgs,
    params: ParamArgs,
    rules: UserRules,
    limits: Limits,
) -> ClientSpec {
    let messages = if script.messages.is_empty() {
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
    ClientSpec {
        guest,
        messages,
        timeout_ms: script.timeout_ms,
        params: params.params,
        expect: script.expect,
        rules,
        limits,
    }
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
