//! What a guest may do on the network.
//!
//! # Model
//! A [`Policy`] holds allow rules and deny rules ([`rules`]); deny wins.
//! Every `bind`, `listen`, `accept`, `connect`, datagram send and datagram
//! receive a guest makes reaches [`Policy::check`] through wasmtime-wasi's
//! `socket_addr_check`, and every name lookup reaches [`Policy::check_name`]
//! through socklab's own `ip-name-lookup` (`runtime::overrides`). A use that
//! no rule allows is refused: the guest sees `access-denied`, or for an
//! accept or an incoming datagram never sees the peer at all (wasmtime-wasi
//! drops those silently; the refusal is recorded all the same).
//!
//! The host's least-privilege grants for the wiring ([`wiring`]) are allow
//! rules like any other, so `--deny` beats them and `--allow` widens them.
//! Every refusal is recorded individually (in memory up to a cap, and in the
//! [`audit`] file when there is one); allowed uses are counted per operation,
//! address and rule, since UDP is checked once per datagram.
//!
//! # Layout (the arrows point down)
//! - [`op`]: the operations a rule names, and what a refusal records;
//! - [`rules`]: the `OPS=TARGETS` grammar;
//! - [`wiring`]: the grants each role gets by default;
//! - [`audit`]: the JSON Lines trail;
//! - [`policy`]: one guest's rules and decisions, on top of all of them.
//!
//! Nothing here knows of the runtime, the commands or the reports.

pub mod audit;
pub mod op;
pub mod policy;
pub mod rules;
pub mod wiring;

pub use op::{Op, Refusal};
pub use policy::{Policy, UserRules};
