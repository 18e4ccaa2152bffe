//! `cargo bench`: the same figures as `socklab bench`, from the same code
//! (`socklab::bench`). `cargo bench -- --quick` runs the short version.

fn main() -> anyhow::Result<()> {
    // cargo passes `--bench` (and any filter) to every bench target.
    let quick = std::env::args().any(|a| a == "--quick");
    let options = socklab::bench::Options {
        quick,
        only: Vec::new(),
        guest_dir: None,
        socklab_exe: Some(env!("CARGO_BIN_EXE_socklab").into()),
        udp_sockets: socklab::runtime::link::UdpSockets::Socklab,
        pin: true,
    };
    // Pinned before the runtime starts a thread, as `socklab bench` does.
    socklab::bench::pin::pin_this_thread()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let bench = runtime.block_on(socklab::bench::run_all(options, std::future::pending()))?;
    print!("{}", bench.table());
    Ok(())
}
