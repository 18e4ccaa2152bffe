//! The command line: what each `socklab` command takes, and how it drives the
//! library. `main.rs` only parses and calls [`run`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::audit::Audit;
use crate::bad_input;
use crate::cache::Cache;
use crate::exchange::{self, ClientSpec, ServerSpec};
use crate::grants::UserRules;
use crate::lab::Lab;
use crate::limits::{Limits, parse_duration, parse_size};
use crate::report::{Expect, Report, Run};
use crate::roles::{Role, Side};
use crate::rules::{self, Origin, Rule};

/// socklab: run WebAssembly components that talk TCP and UDP, each in its own
/// sandbox, granted only the network access its wiring needs.
#[derive(Parser, Debug)]
#[command(name = "socklab", version, about, max_term_width = 100)]
pub struct Cli {
    /// Look for bundled guests here first (then $SOCKLAB_GUEST_DIR, then
    /// where the build put them).
    #[arg(long, global = true, value_name = "DIR")]
    pub guest_dir: Option<PathBuf>,

    /// Print the report as one JSON document instead of a transcript.
    #[arg(long, global = true)]
    pub json: bool,

    /// Also show the guests' debug log lines (on stderr).
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Write every network decision as JSON Lines to FILE: each refusal as
    /// it happens, allowed uses counted per guest, operation and target.
    #[arg(long, global = true, value_name = "FILE")]
    pub audit: Option<PathBuf>,

    /// Compile every guest afresh instead of using (and filling) the
    /// compiled-component cache in the user's cache directory.
    #[arg(long, global = true)]
    pub no_cache: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a TCP and a UDP exchange between the bundled guests on 127.0.0.1
    /// and print what happened.
    Demo,

    /// Run a server guest alone until Ctrl-C or its session limit.
    Serve {
        /// The server guest: a component file or a bundled name.
        guest: String,
        /// Where to listen; port 0 picks a free port. The real address is
        /// printed on stderr as `listening on ADDR`.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0", value_parser = parse_addr)]
        listen: SocketAddr,
        /// Stop after this many sessions (TCP connections closed, UDP
        /// datagrams answered).
        #[arg(long, value_name = "N")]
        max_sessions: Option<u64>,
        #[command(flatten)]
        params: ParamArgs,
        #[command(flatten)]
        sandbox: SandboxArgs,
    },

    /// Run a client guest alone against any server, wasm or not, and print
    /// each reply.
    Connect {
        /// The client guest: a component file or a bundled name.
        guest: String,
        /// The server's address.
        #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
        to: SocketAddr,
        #[command(flatten)]
        script: ScriptArgs,
        #[command(flatten)]
        params: ParamArgs,
        #[command(flatten)]
        sandbox: SandboxArgs,
    },

    /// Wire a client guest to a server guest in one host and run the script.
    Exchange {
        /// The server guest.
        #[arg(long, value_name = "GUEST")]
        server: String,
        /// The client guest (same transport as the server).
        #[arg(long, value_name = "GUEST")]
        client: String,
        /// Where the server listens.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0", value_parser = parse_addr)]
        listen: SocketAddr,
        #[command(flatten)]
        script: ScriptArgs,
        #[command(flatten)]
        params: ParamArgs,
        #[command(flatten)]
        sandbox: SandboxArgs,
        /// Allow RULE for the server only (repeatable).
        #[arg(long, value_name = "RULE", value_parser = parse_allow)]
        server_allow: Vec<Rule>,
        /// Deny RULE for the server only (repeatable).
        #[arg(long, value_name = "RULE", value_parser = parse_deny)]
        server_deny: Vec<Rule>,
        /// Allow RULE for the client only (repeatable).
        #[arg(long, value_name = "RULE", value_parser = parse_allow)]
        client_allow: Vec<Rule>,
        /// Deny RULE for the client only (repeatable).
        #[arg(long, value_name = "RULE", value_parser = parse_deny)]
        client_deny: Vec<Rule>,
    },

    /// List the bundled guests with their role, transport and path.
    Guests,

    /// Run a wasi:cli command component (any WASI 0.2.x program) with its
    /// stdio, args, env and directories, under the sandbox's rules and
    /// limits; nothing is granted by default. Its exit code becomes socklab's.
    Run {
        /// The command component.
        command: String,
        /// `K=V` in its environment (repeatable).
        #[arg(long = "env", value_name = "K=V", value_parser = parse_param)]
        env: Vec<(String, String)>,
        /// A host directory it may use, and where it sees it (repeatable).
        #[arg(long = "dir", value_name = "HOST::GUEST", value_parser = crate::command::parse_dir)]
        dirs: Vec<(PathBuf, String)>,
        #[command(flatten)]
        sandbox: SandboxArgs,
        /// Its arguments, after `--`.
        #[arg(last = true, value_name = "ARGS")]
        args: Vec<String>,
    },

    /// Show what a component is: its role (or that it is a wasi:cli command,
    /// or not a socklab role), what it imports (the capabilities it could ask
    /// for), what it exports, its size and SHA-256.
    Inspect {
        /// A component file or a bundled name.
        guest: String,
    },
}

/// The messages a client sends and how it judges replies.
#[derive(Args, Debug)]
pub struct ScriptArgs {
    /// A message to send (repeat for several). TCP sends each followed by
    /// `\n` on one connection; UDP sends each as one datagram.
    #[arg(long = "message", value_name = "TEXT")]
    pub messages: Vec<String>,
    /// How long to wait for each reply.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub timeout_ms: u32,
    /// What counts as a right reply: any reply, or the message echoed back.
    #[arg(long, value_enum, default_value_t = Expect::Any)]
    pub expect: Expect,
}

/// Free-form settings for the guest.
#[derive(Args, Debug)]
pub struct ParamArgs {
    /// A `KEY=VALUE` setting passed to the guest (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
}

/// The sandbox of every guest the command runs: rules on top of the wiring's
/// grants, and resource limits.
#[derive(Args, Debug)]
pub struct SandboxArgs {
    /// Allow RULE (`OPS=TARGETS`, e.g. `tcp-connect=127.0.0.1:8000-8100`,
    /// `'udp=[::1]:*'`, `dns=*.example.com`, `'*=*'`); repeatable. The
    /// wiring's own grants are allows too.
    #[arg(long, value_name = "RULE", value_parser = parse_allow)]
    pub allow: Vec<Rule>,
    /// Deny RULE; repeatable; deny wins over any allow.
    #[arg(long, value_name = "RULE", value_parser = parse_deny)]
    pub deny: Vec<Rule>,
    /// Linear memory per guest (e.g. 64MiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory_limit: Option<u64>,
    /// CPU time per guest, spent in its own code (e.g. 2s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub cpu_limit: Option<std::time::Duration>,
    /// Sockets a guest may hold at once; past it the guest gets
    /// `new-socket-limit`.
    #[arg(long, value_name = "N")]
    pub max_sockets: Option<u32>,
    /// Accepted connections a server may have open at once; past it the host
    /// closes new ones.
    #[arg(long, value_name = "N")]
    pub max_connections: Option<u32>,
    /// Wall-clock time per guest run (e.g. 30s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub deadline: Option<std::time::Duration>,
}

impl SandboxArgs {
    fn limits(&self) -> Limits {
        let mut limits = Limits::default();
        if let Some(m) = self.memory_limit {
            limits.memory = m;
        }
        if let Some(c) = self.cpu_limit {
            limits.cpu = c;
        }
        if let Some(n) = self.max_sockets {
            limits.max_sockets = n;
        }
        if let Some(n) = self.max_connections {
            limits.max_connections = n;
        }
        limits.deadline = self.deadline;
        limits
    }

    /// The plain `--allow`/`--deny` rules plus one side's own.
    fn rules(&self, allow: &[Rule], deny: &[Rule]) -> UserRules {
        UserRules {
            allow: self.allow.iter().chain(allow).cloned().collect(),
            deny: self.deny.iter().chain(deny).cloned().collect(),
        }
    }
}

/// Messages used when none are given.
const DEFAULT_MESSAGES: [&str; 3] = ["hello", "how are you?", "bye"];

/// Run the parsed command; the result is the process's exit code.
pub async fn run(cli: Cli) -> Result<i32> {
    raise_open_file_limit();
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

/// `IP:PORT`, with IPv6 in brackets.
fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse().map_err(|_| {
        format!("`{s}` is not an address; write IP:PORT, such as 127.0.0.1:8080 or [::1]:8080 (port 0..65535)")
    })
}

fn parse_allow(s: &str) -> Result<Rule, String> {
    rules::parse(s, Origin::Allow)
}

fn parse_deny(s: &str) -> Result<Rule, String> {
    rules::parse(s, Origin::Deny)
}

/// Raise the soft open-file limit to the hard one, so that a server guest
/// can hold hundreds of connections (each is a file descriptor of socklab's).
fn raise_open_file_limit() {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}
