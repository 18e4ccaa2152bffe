//! What a linker offers guests: WASI 0.2 without its sockets (and clocks),
//! the sockets (one function per network: [`real_sockets`], the
//! simulation's in [`simulated`]), and `socklab:lab/host`; for WASI 0.3
//! guests, wasmtime-wasi's `p3` interfaces, socklab's socket creation over
//! them, and `socklab:lab/host@0.2.0`.
//!
//! wasmtime-wasi's own `add_to_linker_async` links every interface at once;
//! socklab links the same interfaces one by one, through wasmtime-wasi's
//! public per-interface functions, so that `wasi:sockets` can come from
//! another implementation (a simulated network) without touching the rest.

use anyhow::{Context, Result};
use wasmtime::component::{HasData, HasSelf, Linker, ResourceTable};
use wasmtime_wasi::WasiView;

use super::state::GuestState;
use super::{host03, overrides, overrides03};
use crate::roles::bindings;

/// The linker of the [`REAL`](super::engine::REAL) flavor: WASI 0.2, the
/// real network's sockets (socklab's own UDP), and `socklab:lab/host`.
pub fn real(linker: &mut Linker<GuestState>) -> Result<()> {
    real_with(linker, UdpSockets::Socklab)
}

/// The linker of the [`REAL_WASMTIME_UDP`](super::engine::REAL_WASMTIME_UDP)
/// flavor: as [`real`], but wasmtime-wasi's own UDP, for comparison.
pub fn real_wasmtime_udp(linker: &mut Linker<GuestState>) -> Result<()> {
    real_with(linker, UdpSockets::WasmtimeWasi)
}

fn real_with(linker: &mut Linker<GuestState>, udp: UdpSockets) -> Result<()> {
    wasi_without_sockets(linker)
        .map_err(anyhow::Error::from)
        .context("linking WASI")?;
    real_sockets(linker, udp).context("linking wasi:sockets")?;
    host(linker).context("linking socklab:lab/host")
}

/// Whose `wasi:sockets/udp` a real-network linker offers (the values of
/// `--udp-sockets`).
#[derive(clap::ValueEnum, serde::Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum UdpSockets {
    /// socklab's own, on tokio's `UdpSocket` (`runtime/udp/`).
    Socklab,
    /// wasmtime-wasi 48's, with socklab's socket creation over it.
    WasmtimeWasi,
}

/// The linker of the [`REAL03`](super::engine::REAL03) flavor: WASI 0.3
/// (cli, clocks, filesystem, random, sockets on the host's network with
/// socklab's grants), the WASI 0.2 interfaces but sockets that Rust's std
/// brings into a 0.3 guest, and `socklab:lab/host@0.2.0`.
pub fn real03(linker: &mut Linker<GuestState>) -> Result<()> {
    use wasmtime_wasi::p3;
    wasi_without_sockets(linker)
        .map_err(anyhow::Error::from)
        .context("linking WASI 0.2")?;
    let l = &mut *linker;
    let wasi03 = p3::cli::add_to_linker(l)
        .and_then(|()| p3::clocks::add_to_linker(l))
        .and_then(|()| p3::filesystem::add_to_linker(l))
        .and_then(|()| p3::random::add_to_linker(l))
        .and_then(|()| p3::sockets::add_to_linker(l));
    wasi03
        .map_err(anyhow::Error::from)
        .context("linking WASI 0.3")?;
    overrides03::add(linker).context("linking socklab's WASI 0.3 socket overrides")?;
    host03::add(linker).context("linking socklab:lab/host@0.2.0")
}

/// `HasData` for wasmtime-wasi-io's `wasi:io`, which works on the table.
struct IoTable;

impl HasData for IoTable {
    type Data<'a> = &'a mut ResourceTable;
}

/// Every WASI 0.2 interface wasmtime-wasi links but `wasi:sockets`: io,
/// clocks, filesystem, random and cli.
pub fn wasi_without_sockets<T: WasiView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
    use wasmtime_wasi::p2::bindings::clocks;

    wasi_without_sockets_and_clocks(linker)?;
    clocks::wall_clock::add_to_linker::<T, WasiClocks>(linker, T::clocks)?;
    clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(linker, T::clocks)
}

/// io, filesystem, random and cli: what both networks take from
/// wasmtime-wasi (the simulated one brings its own clocks and sockets).
pub fn wasi_without_sockets_and_clocks<T: WasiView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
    use wasmtime_wasi::p2::bindings::{cli, filesystem, io, random};
    use wasmtime_wasi::random::{WasiRandom, WasiRandomView};

    let l = linker;
    io::error::add_to_linker::<T, IoTable>(l, |t| t.ctx().table)?;
    io::poll::add_to_linker::<T, IoTable>(l, |t| t.ctx().table)?;
    io::streams::add_to_linker::<T, IoTable>(l, |t| t.ctx().table)?;
    filesystem::types::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    filesystem::preopens::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    random::random::add_to_linker::<T, WasiRandom>(l, T::random)?;
    random::insecure::add_to_linker::<T, WasiRandom>(l, T::random)?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(l, T::random)?;
    cli::exit::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::environment::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    Ok(())
}

/// The seven `wasi:sockets` interfaces on the host's network: wasmtime-wasi's,
/// checked by each guest's policy through `socket_addr_check`, with
/// socklab's own socket creation, `accept` and name lookup over them; UDP
/// socklab's own or wasmtime-wasi's, as `udp` says.
pub fn real_sockets(linker: &mut Linker<GuestState>, udp: UdpSockets) -> Result<()> {
    use wasmtime_wasi::p2::bindings::sockets;
    use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};
    type T = GuestState;

    let l = &mut *linker;
    let options = sockets::network::LinkOptions::default();
    sockets::network::add_to_linker::<T, WasiSockets>(l, &options, T::sockets)?;
    sockets::instance_network::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sockets::tcp::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sockets::tcp_create_socket::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sockets::ip_name_lookup::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    match udp {
        UdpSockets::Socklab => super::udp::add_to_linker(l)
            .map_err(anyhow::Error::from)
            .context("linking socklab's wasi:sockets/udp")?,
        UdpSockets::WasmtimeWasi => {
            sockets::udp::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
            sockets::udp_create_socket::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
        }
    }
    overrides::add(linker, udp == UdpSockets::WasmtimeWasi)
        .context("linking socklab's socket overrides")
}

/// The linker of the [`SIMULATED`](super::engine::SIMULATED) flavor:
/// wasmtime-wasi's io, filesystem, random and cli; the simulation's
/// `wasi:clocks` (simulated time) and seven `wasi:sockets` interfaces (the
/// simulated network, checked by each guest's policy through
/// [`SimView`](socklab_sim::SimView)); and `socklab:lab/host`.
pub fn simulated(linker: &mut Linker<GuestState>) -> Result<()> {
    wasi_without_sockets_and_clocks(linker)
        .map_err(anyhow::Error::from)
        .context("linking WASI")?;
    socklab_sim::clocks::add_to_linker(linker)
        .map_err(anyhow::Error::from)
        .context("linking the simulated clocks")?;
    socklab_sim::sockets::add_to_linker(linker)
        .map_err(anyhow::Error::from)
        .context("linking the simulated wasi:sockets")?;
    host(linker).context("linking socklab:lab/host")
}

/// `socklab:lab/host`: listening, log, the stop signal.
pub fn host(linker: &mut Linker<GuestState>) -> Result<()> {
    bindings::socklab::lab::host::add_to_linker::<GuestState, HasSelf<GuestState>>(
        linker,
        |state| state,
    )
    .map_err(anyhow::Error::from)
}
