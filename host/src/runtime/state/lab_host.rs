//! The host side of `socklab:lab/host` (0.2's here; 0.3's in
//! `runtime/host03.rs` calls the same methods): a server's listening
//! address, log lines, the stop signal.

use std::net::SocketAddr;

use tokio::sync::watch;
use wasmtime::component::Resource;
use wasmtime_wasi::p2::bindings::sockets::network::IpSocketAddress;
use wasmtime_wasi::p2::{DynPollable, Pollable};

use super::{GuestState, LOG_CAP};
use crate::roles::bindings::socklab::lab::host;

/// The stop signal as a `wasi:io` pollable: ready once the host has asked
/// the guest to stop.
pub(super) struct StopSignal(Option<watch::Receiver<bool>>);

#[wasmtime_wasi::async_trait]
impl Pollable for StopSignal {
    async fn ready(&mut self) {
        match &mut self.0 {
            // An error means the host dropped its sender: nobody can ask
            // any more, which is as good as having asked.
            Some(stop) => {
                let _ = stop.wait_for(|stop| *stop).await;
            }
            // Nobody will ever ask.
            None => std::future::pending().await,
        }
    }
}

impl GuestState {
    /// `host.listening` (both packages): the address to whoever waits, once.
    pub fn announce(&mut self, addr: SocketAddr) {
        if let Some(tx) = self.listening.take() {
            let _ = tx.send(addr);
        }
    }

    /// `host.log` (both packages): debug lines only with `-v`, at most [`LOG_CAP`] bytes.
    /// `level` is either package's `level` enum, named by its case.
    pub fn log_line(&mut self, level: impl std::fmt::Debug, message: &str) {
        let level = format!("{level:?}");
        let level = level.rsplit("::").next().unwrap_or("info").to_lowercase();
        if level == "debug" && !self.verbose {
            return;
        }
        if self.logged >= LOG_CAP {
            return;
        }
        self.logged += message.len();
        let message = message.replace(['\n', '\r'], " ");
        eprintln!("[{}] {level}: {message}", self.label);
        if self.logged >= LOG_CAP {
            eprintln!(
                "[{}] log limit of {LOG_CAP} bytes reached; further lines dropped",
                self.label
            );
        }
    }

    /// The stop signal for a 0.3 guest's `stop-requested` (`None`: never).
    pub fn stop_signal(&mut self) -> Option<watch::Receiver<bool>> {
        let stop = self.stop.clone()?;
        self.stop_asked.get_or_insert_with(|| stop.clone());
        Some(stop)
    }
}

impl host::Host for GuestState {
    fn listening(&mut self, local: IpSocketAddress) -> wasmtime::Result<()> {
        self.announce(SocketAddr::from(local));
        Ok(())
    }

    fn log(&mut self, level: host::Level, message: String) -> wasmtime::Result<()> {
        self.log_line(level, &message);
        Ok(())
    }

    fn stop_requested(&mut self) -> wasmtime::Result<Resource<DynPollable>> {
        let rep = match &self.stop_resource {
            Some(r) => r.rep(),
            None => {
                let r = self.table.push(StopSignal(self.stop.clone()))?;
                let rep = r.rep();
                self.stop_resource = Some(r);
                rep
            }
        };
        let signal = Resource::<StopSignal>::new_borrow(rep);
        wasmtime_wasi::p2::subscribe(&mut self.table, signal)
    }
}
