//! What each command drives, one short function each: load the guests it
//! names, check their roles, hand them to the library, print the report.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Result;

use super::args::*;
use super::exit;
use super::interrupt::Interrupt;
use crate::exchange::{self, ClientSpec, ServerSpec};
use crate::grants::UserRules;
use crate::limits::Limits;
use crate::report::{ExchangeRecord, Expect, Report, Verdict};
use crate::roles::{Role, Side, Transport};
use crate::runtime::{Guest, Runtime};
use crate::{bad_input, output, say};

/// Messages used when none are given.
const DEFAULT_MESSAGES: [&str; 3] = ["hello", "how are you?", "bye"];

/// Run `cli`'s command; its exit code.
pub async fn dispatch(runtime: &Arc<Runtime>, cli: Cli, interrupt: &Interrupt) -> Result<i32> {
    let json = cli.json;
    let verdict = match cli.command {
        Command::Demo(_) => print(json, demo(runtime, interrupt).await?),
        Command::Serve(args) => print(json, serve(runtime, args, interrupt).await?),
        Command::Connect(args) => print(json, connect(runtime, args, interrupt).await?),
        Command::Exchange(args) => print(json, exchange(runtime, args, interrupt).await?),
        Command::Guests => {
            super::guests::list(runtime, json)?;
            Verdict::Ok
        }
        Command::Run(args) => run(runtime, args, json, interrupt).await?,
        Command::Lab(args) => lab(runtime, args, json, interrupt).await?,
        Command::Bench(args) => {
            bench(args, cli.udp_sockets, cli.guest_dir, json, interrupt).await?
        }
        Command::Inspect(args) => inspect(runtime, args, json)?,
    };
    Ok(exit::code(verdict))
}

/// Print `report` as a transcript or one JSON document; its verdict.
fn print(json: bool, report: Report) -> Verdict {
    if json {
        output::stdout_line(&report.to_json());
    } else {
        output::stdout(&report.transcript());
    }
    report.verdict()
}

/// `socklab demo`: one TCP and one UDP exchange between the bundled guests.
/// Ctrl-C stops the exchange under way and skips the next.
async fn demo(runtime: &Arc<Runtime>, interrupt: &Interrupt) -> Result<Report> {
    interrupt.graceful();
    let mut runs = Vec::new();
    for (server, client) in [
        ("tcp-echo-server", "tcp-client"),
        ("udp-echo-server", "udp-client"),
    ] {
        if interrupt.is_requested() {
            break;
        }
        let server =
            ServerSpec::new(runtime.load(server)?, "127.0.0.1:0".parse().unwrap()).placed(server);
        let mut client = ClientSpec::new(runtime.load(client)?, default_messages()).placed(client);
        client.expect = Expect::Echo;
        let run = exchange::exchange_until(runtime, server, client, interrupt.requested());
        runs.push(run.await);
    }
    Ok(Report::new(runs))
}

/// `socklab serve`: print `listening on ADDR` on stderr as soon as the guest
/// listens, then serve until Ctrl-C, SIGTERM or the session limit.
async fn serve(runtime: &Arc<Runtime>, args: ServeArgs, interrupt: &Interrupt) -> Result<Report> {
    let guest = runtime.load(&args.guest)?;
    require_side(&guest, Side::Server, "serve")?;
    let transport = guest.role.transport;
    let spec = ServerSpec {
        guest,
        listen: args.listen,
        max_sessions: args.max_sessions,
        params: args.params.params,
        rules: args.sandbox.rules(&[], &[]),
        limits: args.sandbox.limits(),
        node: None,
    };
    // Graceful before the guest starts: whoever reads `listening on` may
    // signal at once.
    interrupt.graceful();
    let server = match exchange::start_server(runtime, spec).await {
        Ok(running) => {
            say!("listening on {}", running.addr);
            running.finish(interrupt.requested()).await
        }
        Err(record) => *record,
    };
    Ok(Report::new(vec![ExchangeRecord {
        transport,
        server: Some(server),
        client: None,
    }]))
}

/// `socklab connect`: a client guest against any server.
async fn connect(
    runtime: &Arc<Runtime>,
    args: ConnectArgs,
    interrupt: &Interrupt,
) -> Result<Report> {
    let guest = runtime.load(&args.guest)?;
    require_side(&guest, Side::Client, "connect")?;
    if args.sandbox.max_connections.is_some() {
        bad_input!(
            "--max-connections limits a server's accepted connections, and `connect` runs a client; drop the flag"
        );
    }
    let transport = guest.role.transport;
    let rules = args.sandbox.rules(&[], &[]);
    let limits = args.sandbox.limits();
    let spec = client_spec(guest, args.script, args.params, rules, limits, args.to)?;
    interrupt.graceful();
    let client = exchange::run_client_until(runtime, &spec, args.to, interrupt.requested()).await;
    Ok(Report::new(vec![ExchangeRecord {
        transport,
        server: None,
        client: Some(client),
    }]))
}

/// `socklab exchange`: a server guest and a client guest wired together.
async fn exchange(
    runtime: &Arc<Runtime>,
    args: ExchangeArgs,
    interrupt: &Interrupt,
) -> Result<Report> {
    let server = runtime.load(&args.server)?;
    require_side(&server, Side::Server, "--server")?;
    let client = runtime.load(&args.client)?;
    require_side(&client, Side::Client, "--client")?;
    if server.role.transport != client.role.transport {
        bad_input!(
            "server {} speaks {} but client {} speaks {}; pick two guests of one transport",
            server.name,
            server.role.transport,
            client.name,
            client.role.transport
        );
    }
    let sandbox = &args.sandbox;
    let server = ServerSpec {
        guest: server,
        listen: args.listen,
        max_sessions: None,
        params: args.params.params.clone(),
        rules: sandbox.rules(&args.server_allow, &args.server_deny),
        limits: sandbox.limits(),
        node: None,
    }
    .placed("server");
    let rules = sandbox.rules(&args.client_allow, &args.client_deny);
    let limits = sandbox.limits();
    let client =
        client_spec(client, args.script, args.params, rules, limits, args.listen)?.placed("client");
    interrupt.graceful();
    let run = exchange::exchange_until(runtime, server, client, interrupt.requested()).await;
    Ok(Report::new(vec![run]))
}

/// `socklab run`: a `wasi:cli` command.
async fn run(
    runtime: &Arc<Runtime>,
    args: RunArgs,
    json: bool,
    interrupt: &Interrupt,
) -> Result<Verdict> {
    let spec = crate::command::CommandSpec {
        guest: args.command,
        args: args.args,
        env: args.env,
        dirs: args.dirs,
        rules: args.sandbox.rules(&[], &[]),
        limits: args.sandbox.limits(),
        capture_output: json,
    };
    interrupt.graceful();
    let run = crate::command::run_command(runtime, spec, interrupt.requested()).await?;
    for note in run.notes() {
        say!("{note}");
    }
    if json {
        output::stdout_line(&serde_json::to_string_pretty(&run)?);
    }
    Ok(run.verdict)
}

/// `socklab lab FILE`: an experiment.
async fn lab(
    runtime: &Arc<Runtime>,
    args: LabArgs,
    json: bool,
    interrupt: &Interrupt,
) -> Result<Verdict> {
    let overrides = crate::experiment::plan::Overrides {
        seed: args.seed,
        count: args.count.map(|c| c as usize),
        repeats: args.repeats,
    };
    let options = crate::experiment::LabOptions {
        out: args.out,
        pcap: args.pcap,
        chart: !args.no_chart,
        json,
        kept: args.kept,
    };
    let plan = crate::experiment::plan::load(runtime, &args.file, &overrides)?;
    interrupt.graceful();
    crate::experiment::run_plan(runtime, plan, options, interrupt.requested()).await
}

/// `socklab bench`: what the sandbox costs, against native.
async fn bench(
    args: BenchArgs,
    udp_sockets: crate::runtime::link::UdpSockets,
    guest_dir: Option<std::path::PathBuf>,
    json: bool,
    interrupt: &Interrupt,
) -> Result<Verdict> {
    let options = crate::bench::Options {
        quick: args.quick,
        only: args.only,
        guest_dir,
        socklab_exe: std::env::current_exe().ok(),
        udp_sockets,
        pin: !args.no_pin,
    };
    interrupt.graceful();
    let bench = crate::bench::run_all(options, interrupt.requested()).await?;
    if json {
        output::stdout_line(&serde_json::to_string_pretty(&bench)?);
    } else {
        output::stdout(&bench.table());
    }
    Ok(if bench.interrupted {
        Verdict::Interrupted
    } else {
        Verdict::Ok
    })
}

/// `socklab inspect`: what a component is.
fn inspect(runtime: &Runtime, args: InspectArgs, json: bool) -> Result<Verdict> {
    let inspection = crate::inspect::inspect(runtime, &args.guest)?;
    if json {
        output::stdout_line(&serde_json::to_string_pretty(&inspection)?);
    } else {
        output::stdout(&inspection.text());
    }
    Ok(Verdict::Ok)
}

fn default_messages() -> Vec<Vec<u8>> {
    DEFAULT_MESSAGES
        .iter()
        .map(|m| m.as_bytes().to_vec())
        .collect()
}

/// A client spec from the command line: its messages (the defaults when
/// none are given; a UDP one over the datagram maximum for a server like
/// `server` refused), timeout, expectation, rules and limits.
fn client_spec(
    guest: Arc<Guest>,
    script: ScriptArgs,
    params: ParamArgs,
    rules: UserRules,
    limits: Limits,
    server: SocketAddr,
) -> Result<ClientSpec> {
    let messages: Vec<Vec<u8>> = if script.messages.is_empty() {
        default_messages()
    } else {
        script
            .messages
            .into_iter()
            .map(String::into_bytes)
            .collect()
    };
    if guest.role.transport == Transport::Udp {
        let max = crate::limits::max_datagram(server.is_ipv4());
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
        node: None,
    })
}

fn require_side(guest: &Guest, side: Side, what: &str) -> Result<()> {
    let Role { side: has, .. } = guest.role;
    if has != side {
        let wanted = match side {
            Side::Server => "a server (tcp-server or udp-server)",
            Side::Client => "a client (tcp-client or udp-client)",
        };
        bad_input!(
            "guest {} is a {} guest, but {what} needs {wanted}; see `socklab guests`",
            guest.name,
            guest.role
        );
    }
    Ok(())
}
