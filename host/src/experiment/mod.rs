//! `socklab lab FILE`: experiments. One TOML file names the guests, wires
//! each client to a server through an impairing relay of the host's, and says
//! which messages to send; socklab runs it from a seed and reports each
//! message's fate, the RTT figures per transport, a chart and a capture.
//!
//! Where to read: [`file`] (the file format and its errors) → [`plan`]
//! (guests loaded, names resolved) → [`runner`] (servers, relays, clients,
//! rounds) → [`fates`] (what happened to each message) → [`summary`] (the
//! report) and [`chart`].

pub mod chart;
pub mod fates;
pub mod file;
pub mod messages;
pub mod plan;
