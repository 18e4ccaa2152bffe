//! The command line as clap sees it: every command, flag and value parser.
//! Each `///` becomes `--help` text.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::values::*;
use crate::grants::UserRules;
use crate::grants::rules::Rule;
use crate::limits::{Limits, parse_cpu_limit, parse_duration, parse_memory_limit};
use crate::report::Expect;

/// socklab: run WebAssembly components that talk TCP and UDP, each in its own
/// sandbox, granted only the network access its wiring needs.
#[derive(Parser, Debug, Clone)]
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

    /// Where the guests run: `real`, the host's own network (the default),
    /// or `simulated`, socklab's in-memory network in simulated time, every
    /// choice drawn from the seed (for demo, exchange, run and lab; see
    /// docs/simulated.md).
    #[arg(long, global = true, value_name = "NETWORK", default_value = "real")]
    pub network: Network,

    /// Whose WASI 0.2 UDP sockets guests get on the real network:
    /// `socklab`, socklab's own (the default), or `wasmtime-wasi`,
    /// wasmtime-wasi 48's, for comparison (`socklab bench --udp-sockets
    /// wasmtime-wasi`). The grants, audit lines and limits are the same.
    #[arg(long, global = true, value_name = "WHOSE", default_value = "socklab")]
    pub udp_sockets: crate::runtime::link::UdpSockets,

    /// On the simulated network, write every socket event (bind, send,
    /// receive, drop with its cause, close) as JSON Lines to FILE, in
    /// simulated microseconds.
    #[arg(long, global = true, value_name = "FILE")]
    pub events: Option<PathBuf>,

    /// Real time the whole command may take, on either network (e.g. 30s):
    /// a watchdog on the host's own clock. Past it socklab stops the guests,
    /// reports what finished, and exits with 3. (`--deadline` and
    /// `--cpu-limit` are per guest, and count simulated time on the
    /// simulated network.)
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub wall_limit: Option<std::time::Duration>,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

// The commands (each variant's `///` is its `--help` line).
#[derive(Subcommand, Debug, Clone)]
#[allow(missing_docs)]
pub enum Command {
    /// Run a TCP and a UDP exchange between the bundled guests on 127.0.0.1
    /// and print what happened.
    Demo(DemoArgs),

    /// Run a server guest alone until Ctrl-C or its session limit.
    Serve(ServeArgs),

    /// Run a client guest alone against any server, wasm or not, and print
    /// each reply.
    Connect(ConnectArgs),

    /// Wire a client guest to a server guest in one host and run the script.
    Exchange(ExchangeArgs),

    /// Run an experiment file: guests wired through impairing relays, the
    /// messages sent from a seed, each message's fate and the RTT figures
    /// reported, a chart written beside the report.
    Lab(LabArgs),

    /// List the bundled guests with their role, transport and path.
    Guests,

    /// Run a wasi:cli command component (any WASI 0.2.x program) with its
    /// stdio, args, env and directories, under the sandbox's rules and
    /// limits; nothing is granted by default. Its exit code becomes socklab's.
    Run(RunArgs),

    /// Measure what the sandbox costs: each figure against a native Rust
    /// baseline (and `wasmtime run`) in the same run, with the ratio and its
    /// target. Loopback only.
    Bench(BenchArgs),

    /// Show what a component is: its role (or that it is a wasi:cli command,
    /// or not a socklab role), what it imports (the capabilities it could ask
    /// for), what it exports, its size and SHA-256.
    Inspect(InspectArgs),
}

/// Which network guests run on (`--network`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    /// The host's own network (loopback and beyond, as granted).
    Real,
    /// socklab's simulated network: in memory, in simulated time, seeded.
    Simulated,
}

/// The seed of a run on the simulated network.
#[derive(Args, Debug, Clone)]
pub struct SeedArgs {
    /// With --network simulated: the seed every choice is drawn from
    /// (ephemeral ports, the order of simultaneous events, each guest's
    /// wasi:random); 0 when not given.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_seed)]
    pub seed: Option<u64>,
}

/// `socklab demo`.
#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// The simulated network's seed.
    #[command(flatten)]
    pub sim: SeedArgs,
}

/// `socklab serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// The server guest: a component file or a bundled name.
    pub guest: String,
    /// Where to listen; port 0 picks a free port. The real address is
    /// printed on stderr as `listening on ADDR`.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0", value_parser = parse_addr)]
    pub listen: SocketAddr,
    /// Stop after this many sessions (TCP connections closed, UDP
    /// datagrams answered); at least 1.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_from_1)]
    pub max_sessions: Option<u64>,
    /// The guest's parameters.
    #[command(flatten)]
    pub params: ParamArgs,
    /// The guest's rules and limits.
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// `socklab connect`.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// The client guest: a component file or a bundled name.
    pub guest: String,
    /// The server's address (its port, not 0).
    #[arg(long, value_name = "ADDR", value_parser = parse_server_addr)]
    pub to: SocketAddr,
    /// The client's messages and how replies are judged.
    #[command(flatten)]
    pub script: ScriptArgs,
    /// The guest's parameters.
    #[command(flatten)]
    pub params: ParamArgs,
    /// The guest's rules and limits.
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// `socklab exchange`.
#[derive(Args, Debug, Clone)]
pub struct ExchangeArgs {
    /// The server guest.
    #[arg(long, value_name = "GUEST")]
    pub server: String,
    /// The client guest (same transport as the server).
    #[arg(long, value_name = "GUEST")]
    pub client: String,
    /// Where the server listens.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0", value_parser = parse_addr)]
    pub listen: SocketAddr,
    /// The client's messages and how replies are judged.
    #[command(flatten)]
    pub script: ScriptArgs,
    /// The guest's parameters.
    #[command(flatten)]
    pub params: ParamArgs,
    /// The guest's rules and limits.
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    /// Allow RULE for the server only (repeatable).
    #[arg(long, value_name = "RULE", value_parser = parse_allow)]
    pub server_allow: Vec<Rule>,
    /// Deny RULE for the server only (repeatable).
    #[arg(long, value_name = "RULE", value_parser = parse_deny)]
    pub server_deny: Vec<Rule>,
    /// Allow RULE for the client only (repeatable).
    #[arg(long, value_name = "RULE", value_parser = parse_allow)]
    pub client_allow: Vec<Rule>,
    /// Deny RULE for the client only (repeatable).
    #[arg(long, value_name = "RULE", value_parser = parse_deny)]
    pub client_deny: Vec<Rule>,
    /// The simulated network's seed.
    #[command(flatten)]
    pub sim: SeedArgs,
}

/// `socklab lab`.
#[derive(Args, Debug, Clone)]
pub struct LabArgs {
    /// The experiment file (TOML; see examples/).
    pub file: PathBuf,
    /// Where report.json and rtt.svg go (default lab-out/<file stem>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also write a pcap file of the packets: on the real network what the
    /// relays delivered (timestamped in real time); on the simulated one
    /// every IP packet each node sent, copies and lost ones included,
    /// timestamped in simulated time.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Use this seed instead of the file's (a whole number from 0).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_seed)]
    pub seed: Option<u64>,
    /// Send at most N messages per client (a shorter run of the same
    /// experiment); at least 1.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_from_1)]
    pub count: Option<u64>,
    /// Run the clients this many rounds instead of the file's `repeats`
    /// (1 to 1000).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_repeats)]
    pub repeats: Option<u32>,
    /// Do not write the chart.
    #[arg(long)]
    pub no_chart: bool,
    /// With --network simulated: run the experiment twice with one seed
    /// and compare every byte of the report, chart, event log and capture;
    /// name the first event where the runs part and exit 1, or say they
    /// agree. The files are written from the first run only.
    #[arg(long)]
    pub check_determinism: bool,
    /// Set by --check-determinism, never on the command line: where the
    /// run's files are also (or, for the second run, only) kept.
    #[arg(skip)]
    pub kept: Option<crate::experiment::outputs::Kept>,
}

/// `socklab run`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// The command component.
    pub command: String,
    /// `K=V` in its environment (repeatable).
    #[arg(long = "env", value_name = "K=V", value_parser = parse_param)]
    pub env: Vec<(String, String)>,
    /// A host directory it may use, and where it sees it (repeatable).
    #[arg(long = "dir", value_name = "HOST::GUEST", value_parser = crate::command::parse_dir)]
    pub dirs: Vec<(PathBuf, String)>,
    /// The guest's rules and limits.
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    /// The simulated network's seed.
    #[command(flatten)]
    pub sim: SeedArgs,
    /// Its arguments, after `--`.
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

/// `socklab bench`.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Fewer messages and bytes per round: done in under a minute.
    #[arg(long)]
    pub quick: bool,
    /// Only these groups of rows (repeatable, or comma-separated).
    #[arg(long, value_enum, value_name = "GROUP", value_delimiter = ',')]
    pub only: Vec<crate::bench::Group>,
    /// Leave the threads where the kernel puts them. By default every
    /// thread of the bench, and every process it starts, runs on one CPU:
    /// on a VM a round trip between two vCPUs is bimodal (one wakes an idle
    /// vCPU, or not), and pinned figures repeat.
    #[arg(long)]
    pub no_pin: bool,
}

/// `socklab inspect`.
#[derive(Args, Debug, Clone)]
pub struct InspectArgs {
    /// A component file or a bundled name.
    pub guest: String,
}

/// The messages a client sends and how it judges replies.
#[derive(Args, Debug, Clone)]
pub struct ScriptArgs {
    /// A message to send (repeat for several). TCP sends each followed by
    /// `\n` on one connection; UDP sends each as one datagram.
    #[arg(long = "message", value_name = "TEXT")]
    pub messages: Vec<String>,
    /// How long to wait for each reply, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 2000, allow_negative_numbers = true, value_parser = parse_u32)]
    pub timeout_ms: u32,
    /// What counts as a right reply: any reply, or the message echoed back.
    #[arg(long, value_enum, default_value_t = Expect::Any)]
    pub expect: Expect,
}

/// Free-form settings for the guest.
#[derive(Args, Debug, Clone)]
pub struct ParamArgs {
    /// A `KEY=VALUE` setting passed to the guest (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
}

/// The sandbox of every guest the command runs: rules on top of the wiring's
/// grants, and resource limits.
#[derive(Args, Debug, Clone)]
pub struct SandboxArgs {
    /// Allow RULE (`OPS=TARGETS`, e.g. `tcp-connect=127.0.0.1:8000-8100`,
    /// `'udp=[::1]:*'`, `dns=*.example.com`, `'*=*'`); repeatable. The
    /// wiring's own grants are allows too.
    #[arg(long, value_name = "RULE", value_parser = parse_allow)]
    pub allow: Vec<Rule>,
    /// Deny RULE; repeatable; deny wins over any allow.
    #[arg(long, value_name = "RULE", value_parser = parse_deny)]
    pub deny: Vec<Rule>,
    /// Linear memory per guest (e.g. 64MiB; at most 4GiB, all a wasm32
    /// guest can address).
    #[arg(long, value_name = "SIZE", value_parser = parse_memory_limit)]
    pub memory_limit: Option<u64>,
    /// CPU time per guest, spent in its own code (e.g. 2s; at least 10ms,
    /// the limit's resolution). On the real network: the host's CPU time,
    /// measured between epoch ticks. On the simulated network: simulated
    /// CPU time, the guest's fuel at 1 ns per unit plus 0.5 us per host
    /// call, the same on every machine.
    #[arg(long, value_name = "DURATION", value_parser = parse_cpu_limit)]
    pub cpu_limit: Option<std::time::Duration>,
    /// Sockets a guest may hold at once; past it the guest gets
    /// `new-socket-limit`.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_u32)]
    pub max_sockets: Option<u32>,
    /// Accepted connections a server may have open at once; past it the host
    /// closes new ones.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_u32)]
    pub max_connections: Option<u32>,
    /// Time per guest run (e.g. 30s): wall-clock time on the real network,
    /// simulated time on the simulated network (see --wall-limit for a
    /// real-time bound there).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub deadline: Option<std::time::Duration>,
}

impl SandboxArgs {
    /// The limits these flags set, the defaults elsewhere.
    pub fn limits(&self) -> Limits {
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
    pub fn rules(&self, allow: &[Rule], deny: &[Rule]) -> UserRules {
        UserRules {
            allow: self.allow.iter().chain(allow).cloned().collect(),
            deny: self.deny.iter().chain(deny).cloned().collect(),
        }
    }
}
