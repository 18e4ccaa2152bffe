//! socklab: a host that runs WebAssembly components speaking TCP and UDP,
//! each in its own sandbox, and wires them to each other and to the real
//! network.
//!
//! # Where to start reading
//! - [`cli`]: the commands (`demo`, `serve`, `connect`, `exchange`, `lab`,
//!   `run`, `guests`, `inspect`, `bench`): their flags in `cli/args.rs`, what
//!   each drives in `cli/mod.rs`. `main.rs` only parses and calls it.
//! - [`bench`]: `socklab bench` and `cargo bench`: each figure against a
//!   native baseline in the same run (`bench/mod.rs` lists the rows).
//! - [`command`]: `socklab run`, for ordinary `wasi:cli` commands.
//! - [`experiment`]: `socklab lab FILE`: experiment files, clients wired to
//!   servers through the impairing relays of the `socklab-relay` crate, each
//!   message's fate, the report, chart and capture.
//! - [`exchange`]: how a server and a client are started, wired and stopped.
//! - [`lab`]: how a guest file becomes a compiled component of a known role
//!   (and every way that can fail); [`cache`] keeps compiled components
//!   across runs.
//! - [`run`]: running one guest: its `Store`, instantiation, the call.
//! - [`state`]: what one guest's `Store` holds, and the host side of
//!   `socklab:lab/host` (listening, log, the stop pollable).
//! - [`grants`]: what a guest may do on the network, checked on every socket
//!   use, and the refusals recorded; [`rules`] is the `--allow`/`--deny`
//!   grammar, [`audit`] the JSON Lines trail.
//! - [`limits`]: memory, CPU, sockets, connections, deadline per guest.
//! - [`sandbox`]: socklab's own socket-creation, `accept` and name-lookup
//!   functions, linked over wasmtime-wasi's to count and check.
//! - [`inspect`]: what a component imports and exports, without running it.
//! - [`roles`]: the WIT bindings, and how exports tell a guest's role.
//! - [`report`]: transcripts, JSON and exit codes.
//! - [`error`]: bad input (exit code 2).
//!
//! The arrows point one way: `cli` → `experiment` → `exchange` → `run`/`lab` →
//! `state`/`grants`/`roles`; `report` only records.

pub mod audit;
pub mod bench;
pub mod cache;
pub mod cli;
pub mod command;
pub mod error;
pub mod exchange;
pub mod experiment;
pub mod grants;
pub mod input;
pub mod inspect;
pub mod lab;
pub mod limits;
pub mod output;
pub mod report;
pub mod roles;
pub mod rules;
pub mod run;
pub mod sandbox;
pub mod state;
