//! socklab: a host that runs WebAssembly components speaking TCP and UDP,
//! each in its own sandbox, and wires them to each other and to the real
//! network, or to a simulated one (the `socklab-sim` crate) in simulated
//! time.
//!
//! # Where to start reading
//! `main.rs` parses the command line and calls [`cli::execute`]; each
//! command is one short function in `cli/commands.rs`. From there:
//!
//! - what the user asked for: [`exchange`] (a server and a client wired
//!   together: `demo`, `serve`, `connect`, `exchange`), [`command`]
//!   (`socklab run` for `wasi:cli` programs), [`inspect`], [`experiment`]
//!   (`socklab lab FILE`: experiments through impairing relays), [`bench`];
//! - [`report`]: records built from each guest's runtime outcome, the
//!   transcript and the JSON, the verdict the exit code is made from;
//! - [`runtime`]: the only place a guest's `Store` is built: the engine and
//!   linker of each flavor (WASI 0.2, and WASI 0.3 on an engine of its own,
//!   both on the real network; WASI 0.2 on the simulated network, with its
//!   guests' view in `runtime/state/sim.rs`), where tasks run and which
//!   clock they read (`runtime/tasks.rs`: tokio, or the simulation), a
//!   guest's WASI version from its imports
//!   (`runtime/wasi.rs`), loading and role detection, the compiled cache, a
//!   guest's store state and the `socklab:lab/host` implementations (0.3's
//!   in `runtime/host03.rs`), the call and its outcome (0.3's in
//!   `runtime/call03.rs`), socklab's overrides of wasmtime-wasi functions,
//!   and socklab's own WASI 0.2 UDP sockets on the real network
//!   (`runtime/udp/`);
//! - [`grants`]: the operations a rule names, the rule grammar, the
//!   wiring's least-privilege grants, the policy check, the audit trail;
//! - at the bottom, known to all and knowing none of them: [`roles`] (the
//!   WIT bindings of both packages, a guest's role and WASI version), [`limits`], [`input`] (files users name),
//!   [`output`] (stdout and stderr), [`error`] (bad input), [`version`].
//!
//! # The arrows
//! They point one way, down this list: `cli` → `exchange`, `command`,
//! `inspect`, `experiment`, `bench` → `report` → `runtime` → `grants` →
//! `roles`, `limits`, `input`, `output`, `error`, `version`. (`experiment`
//! and `bench` use `exchange`; `experiment` also uses the `socklab-relay`
//! crate; `runtime`, the audit's clock and `experiment::sim_capture` use
//! the `socklab-sim` crate, which knows nothing of the host.)
//! `cli/simulated.rs` runs a command on the simulated network, and
//! `cli/determinism.rs` compares two runs of it. `python3 ../shared/tools/shape.py` checks that no circle remains.

#![warn(missing_docs)]

pub mod bench;
pub mod cli;
pub mod command;
pub mod error;
pub mod exchange;
pub mod experiment;
pub mod grants;
pub mod input;
pub mod inspect;
pub mod limits;
pub mod output;
pub mod report;
pub mod roles;
pub mod runtime;
pub mod version;
