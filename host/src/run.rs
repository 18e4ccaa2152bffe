//! Running one guest: a fresh `Store` with its grants, instantiation, the
//! call into its role's export, and what it left behind (its result, its
//! stderr, the decisions made under its grants).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{oneshot, watch};
use wasmtime::Store;

use crate::grants::Policy;
use crate::lab::{Guest, Lab};
use crate::roles::bindings::exports::socklab::lab::{
    tcp_client_role, tcp_server_role, udp_client_role, udp_server_role,
};
use crate::roles::bindings::socklab::lab::types::{
    ClientConfig, ClientReport, ServerConfig, ServerReport,
};
use crate::roles::{Side, Transport};
use crate::state::GuestState;

/// How a guest's call ended, besides returning normally.
#[derive(Debug, Clone)]
pub enum Failure {
    /// The guest returned an error (`result::err`), in its own words.
    Returned(String),
    /// The guest trapped or could not be instantiated; the text carries its
    /// panic message when it printed one.
    Trapped(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Returned(e) => write!(f, "{e}"),
            Failure::Trapped(e) => write!(f, "trapped: {e}"),
        }
    }
}

/// What one guest run produced.
pub struct Outcome<T> {
    pub result: Result<T, Failure>,
    /// The guest's stderr, as text (lossy), for showing when it failed.
    pub stderr: String,
}

/// The wires between the host and a running server.
pub struct ServerWires {
    /// Becomes `true` to ask the server to stop.
    pub stop: watch::Receiver<bool>,
    /// Receives the address the server listens on.
    pub listening: oneshot::Sender<SocketAddr>,
}

impl Lab {
    fn store(
        &self,
        guest: &Guest,
        policy: Arc<Policy>,
        stop: watch::Receiver<bool>,
        listening: Option<oneshot::Sender<SocketAddr>>,
    ) -> Store<GuestState> {
        let side = match guest.role.side {
            Side::Server => "server",
            Side::Client => "client",
        };
        let label = format!("{side} {}", guest.name);
        let state = GuestState::new(
            label,
            guest.role.transport,
            policy,
            stop,
            listening,
            self.verbose,
        );
        Store::new(self.engine(), state)
    }

    /// Run a server guest until it returns: it reaches `max_sessions` or the
    /// host fires `wires.stop`.
    pub async fn serve(
        &self,
        guest: &Guest,
        config: ServerConfig,
        policy: Arc<Policy>,
        wires: ServerWires,
    ) -> Outcome<ServerReport> {
        let mut store = self.store(guest, policy, wires.stop, Some(wires.listening));
        let result = async {
            let instance = guest.pre.instantiate_async(&mut store).await?;
            match guest.role.transport {
                Transport::Tcp => {
                    let export = tcp_server_role::GuestIndices::new(&guest.pre)?
                        .load(&mut store, &instance)?;
                    export.call_serve(&mut store, &config).await
                }
                Transport::Udp => {
                    let export = udp_server_role::GuestIndices::new(&guest.pre)?
                        .load(&mut store, &instance)?;
                    export.call_serve(&mut store, &config).await
                }
            }
        }
        .await;
        finish(store, result)
    }

    /// Run a client guest's script to the end.
    pub async fn run_client(
        &self,
        guest: &Guest,
        config: ClientConfig,
        policy: Arc<Policy>,
    ) -> Outcome<ClientReport> {
        // A client has no stop signal of its own; its reply timeouts bound it.
        let (_never, stop) = watch::channel(false);
        let mut store = self.store(guest, policy, stop, None);
        let result = async {
            let instance = guest.pre.instantiate_async(&mut store).await?;
            match guest.role.transport {
                Transport::Tcp => {
                    let export = tcp_client_role::GuestIndices::new(&guest.pre)?
                        .load(&mut store, &instance)?;
                    export.call_run(&mut store, &config).await
                }
                Transport::Udp => {
                    let export = udp_client_role::GuestIndices::new(&guest.pre)?
                        .load(&mut store, &instance)?;
                    export.call_run(&mut store, &config).await
                }
            }
        }
        .await;
        finish(store, result)
    }
}

/// Fold a call's two layers of failure (trap, guest error) into one, and
/// collect what the guest left on stderr.
fn finish<T>(store: Store<GuestState>, result: wasmtime::Result<Result<T, String>>) -> Outcome<T> {
    let state = store.data();
    let stderr = String::from_utf8_lossy(&state.stderr.contents()).into_owned();
    let result = match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(message)) => Err(Failure::Returned(message)),
        Err(trap) => {
            let tail = state.stderr_tail();
            let trap = format!("{trap:#}");
            Err(Failure::Trapped(if tail.is_empty() {
                trap
            } else {
                format!("{tail} ({trap})")
            }))
        }
    };
    Outcome { result, stderr }
}
