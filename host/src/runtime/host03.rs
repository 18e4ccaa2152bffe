//! `socklab:lab/host@0.2.0` for WASI 0.3 guests: `listening` and `log` as
//! for 0.2 guests, and the stop signal as a `future` the host resolves.
//!
//! A 0.3 server awaits `stop-requested()`'s future beside its listener's
//! stream; the future is made from the same `watch` channel as a 0.2
//! guest's stop pollable, so the exchange stops both kinds alike.

use std::net::SocketAddr;

use anyhow::Result;
use wasmtime::component::{Access, FutureReader, HasData, Linker};

use super::state::GuestState;
use crate::roles::bindings03::socklab::lab::host;
use wasmtime_wasi::p3::bindings::sockets::types::IpSocketAddress;

/// `HasData` for the functions that need the store (`stop-requested` makes
/// a `future` in it).
struct Host03;

impl HasData for Host03 {
    type Data<'a> = &'a mut GuestState;
}

/// Link `socklab:lab/host@0.2.0`.
pub fn add(linker: &mut Linker<GuestState>) -> Result<()> {
    host::add_to_linker::<GuestState, Host03>(linker, |state| state).map_err(anyhow::Error::from)
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
}

impl<T> host::HostWithStore<T> for Host03 {
    fn stop_requested(mut store: Access<'_, T, Self>) -> wasmtime::Result<FutureReader<()>> {
        let stop = store.get().stop_signal();
        FutureReader::new(&mut store, async move {
            match stop {
                // An error means the host dropped its sender: nobody can
                // ask any more, which is as good as having asked.
                Some(mut stop) => {
                    let _ = stop.wait_for(|stop| *stop).await;
                }
                // Nobody will ever ask.
                None => std::future::pending::<()>().await,
            }
            wasmtime::Result::<()>::Ok(())
        })
    }
}
