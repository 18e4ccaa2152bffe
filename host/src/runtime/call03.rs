//! Calling a WASI 0.3 role: its `async` export runs inside
//! `Store::run_concurrent` (wasmtime 48 calls an async-lifted export only
//! there), and its records are the 0.2 records the rest of socklab knows,
//! converted field by field (the two packages' records differ only in their
//! `wasi:sockets` address type).

use std::net::SocketAddr;

use wasmtime::Store;

use super::load::Guest;
use super::state::GuestState;
use crate::roles::Transport;
use crate::roles::bindings::socklab::lab::types as t2;
use crate::roles::bindings03::exports::socklab::lab::{
    tcp_client_role, tcp_server_role, udp_client_role, udp_server_role,
};
use crate::roles::bindings03::socklab::lab::types as t3;

/// What a role's call returns: a trap, or the guest's report or error.
type Called<T> = wasmtime::Result<Result<T, String>>;

/// Instantiate the server `guest` in `store` and call its `serve`.
pub async fn serve(
    store: &mut Store<GuestState>,
    guest: &Guest,
    config: &t2::ServerConfig,
) -> Called<t2::ServerReport> {
    let instance = guest.pre.instantiate_async(&mut *store).await?;
    let config = t3::ServerConfig {
        listen: SocketAddr::from(config.listen).into(),
        max_sessions: config.max_sessions,
        params: config.params.clone(),
    };
    let called = match guest.role.transport {
        Transport::Tcp => {
            let export =
                tcp_server_role::GuestIndices::new(&guest.pre)?.load(&mut *store, &instance)?;
            store
                .run_concurrent(async |accessor| export.call_serve(accessor, config).await)
                .await??
        }
        Transport::Udp => {
            let export =
                udp_server_role::GuestIndices::new(&guest.pre)?.load(&mut *store, &instance)?;
            store
                .run_concurrent(async |accessor| export.call_serve(accessor, config).await)
                .await??
        }
    };
    Ok(called.map(|r| t2::ServerReport {
        sessions: r.sessions,
        bytes_in: r.bytes_in,
        bytes_out: r.bytes_out,
    }))
}

/// Instantiate the client `guest` in `store` and call its `run`.
pub async fn run_client(
    store: &mut Store<GuestState>,
    guest: &Guest,
    config: &t2::ClientConfig,
) -> Called<t2::ClientReport> {
    let instance = guest.pre.instantiate_async(&mut *store).await?;
    let config = t3::ClientConfig {
        server: SocketAddr::from(config.server).into(),
        messages: config.messages.clone(),
        reply_timeout_ms: config.reply_timeout_ms,
        params: config.params.clone(),
    };
    let called = match guest.role.transport {
        Transport::Tcp => {
            let export =
                tcp_client_role::GuestIndices::new(&guest.pre)?.load(&mut *store, &instance)?;
            store
                .run_concurrent(async |accessor| export.call_run(accessor, config).await)
                .await??
        }
        Transport::Udp => {
            let export =
                udp_client_role::GuestIndices::new(&guest.pre)?.load(&mut *store, &instance)?;
            store
                .run_concurrent(async |accessor| export.call_run(accessor, config).await)
                .await??
        }
    };
    Ok(called.map(|r| t2::ClientReport {
        exchanges: r.exchanges.into_iter().map(exchange).collect(),
    }))
}

/// One exchange of a 0.3 client's report as the 0.2 record.
fn exchange(e: t3::Exchange) -> t2::Exchange {
    t2::Exchange {
        bytes_sent: e.bytes_sent,
        rtt_ns: e.rtt_ns,
        reply: match e.reply {
            t3::Reply::Complete(b) => t2::Reply::Complete(b),
            t3::Reply::Closed(b) => t2::Reply::Closed(b),
            t3::Reply::TimedOut(b) => t2::Reply::TimedOut(b),
            t3::Reply::Lost => t2::Reply::Lost,
            t3::Reply::SendFailed(s) => t2::Reply::SendFailed(s),
        },
    }
}
