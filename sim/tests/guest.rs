//! Real guests on the simulated network: the bundled `net-command` and
//! `probe-command` (wasi:cli commands built by socklab-artifacts) in a
//! minimal host that links wasmtime-wasi's io, filesystem, random and cli,
//! and socklab-sim's sockets and clocks, on one `Sim`.
//!
//! When run as root where `unshare` exists, one test runs the exchange again
//! inside an empty network namespace, where no real socket could work.

use std::net::SocketAddr;
use std::time::Duration;

use wasmtime::Result;
use wasmtime::component::{Component, HasData, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use socklab_sim::{ErrorCode, Link, Node, Sim, SimView, Transport, engine_config, random};

/// One guest's store.
struct Guest {
    ctx: WasiCtx,
    table: ResourceTable,
    node: Node,
    /// Every grant check, in order, as the host would audit them.
    checks: Vec<(SocketAddr, String)>,
}

impl WasiView for Guest {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

impl SimView for Guest {
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
    fn node(&self) -> &Node {
        &self.node
    }
    fn allow(&mut self, addr: SocketAddr, use_: SocketAddrUse) -> bool {
        self.checks.push((addr, format!("{use_:?}")));
        true
    }
    fn allow_name(&mut self, _name: &str) -> bool {
        true
    }
    fn may_create(&mut self, _transport: Transport) -> std::result::Result<(), ErrorCode> {
        Ok(())
    }
}

struct IoTable;

impl HasData for IoTable {
    type Data<'a> = &'a mut ResourceTable;
}

/// wasmtime-wasi without its sockets and clocks, then the simulation's.
fn linker(engine: &Engine) -> wasmtime::Result<Linker<Guest>> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
    use wasmtime_wasi::p2::bindings::{cli, filesystem, io, random};
    use wasmtime_wasi::random::{WasiRandom, WasiRandomView};
    type T = Guest;
    let mut linker = Linker::new(engine);
    let l = &mut linker;
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
    socklab_sim::sockets::add_to_linker(l)?;
    socklab_sim::clocks::add_to_linker(l)?;
    Ok(linker)
}

/// What a command guest did.
struct Ran {
    exit: i32,
    stdout: String,
    stderr: String,
    checks: Vec<(SocketAddr, String)>,
}

fn guest_path(name: &str) -> &'static str {
    socklab_artifacts::GUESTS
        .iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("{name} is a bundled guest"))
        .path
}

/// Runs command guest `name` with `args` on `node`, inside the simulation.
async fn run(engine: &Engine, node: &Node, name: &str, args: &[&str]) -> Result<Ran> {
    let component =
        Component::from_file(engine, guest_path(name)).map_err(|e| e.context(name.to_owned()))?;
    let (stdout, stderr) = (
        MemoryOutputPipe::new(1 << 16),
        MemoryOutputPipe::new(1 << 16),
    );
    let mut builder = WasiCtx::builder();
    builder
        .arg(name)
        .args(args)
        .stdout(stdout.clone())
        .stderr(stderr.clone());
    random::for_node(node.handle().seed(), node.name()).apply(&mut builder);
    let guest = Guest {
        ctx: builder.build(),
        table: ResourceTable::new(),
        node: node.clone(),
        checks: Vec::new(),
    };
    let mut store = Store::new(engine, guest);
    store.set_fuel(10_000_000_000)?;
    socklab_sim::yield_on_fuel(&mut store)?;
    let linker = linker(engine)?;
    let command =
        wasmtime_wasi::p2::bindings::Command::instantiate_async(&mut store, &component, &linker)
            .await?;
    let exit = match command.wasi_cli_run().call_run(&mut store).await {
        Ok(Ok(())) => 0,
        Ok(Err(())) => 1,
        Err(e) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
            Some(code) => code.0,
            None => return Err(e.context(format!("{name} trapped"))),
        },
    };
    let text = |p: &MemoryOutputPipe| String::from_utf8_lossy(&p.contents()).into_owned();
    Ok(Ran {
        exit,
        stdout: text(&stdout),
        stderr: text(&stderr),
        checks: std::mem::take(&mut store.data_mut().checks),
    })
}

/// `net-command udp` on node `client` against an echo on node `server`,
/// 5 ms each way: the guest's output and the simulated time it took.
fn udp_exchange(seed: u64) -> (Ran, u64, Vec<u8>) {
    let mut sim = Sim::new(seed);
    let h = sim.handle();
    let (client, server) = (h.add_node("client"), h.add_node("server"));
    for (from, to) in [(&client, &server), (&server, &client)] {
        let link = Link {
            latency: Duration::from_millis(5),
            name: "wire".into(),
            ..Link::default()
        };
        h.set_link(from, to, link);
    }
    let engine = Engine::new(&engine_config()).expect("an engine");
    let ran = sim
        .block_on(async move {
            let at = "10.0.0.2:7".parse().expect("an address");
            let echo = server.udp_bind(at).expect("binds");
            let echo = socklab_sim::spawn(async move {
                let (data, from) = echo.recv_from().await?;
                echo.send_to(&data, from)
            });
            let ran = run(
                &engine,
                &client,
                "net-command",
                &["udp", "10.0.0.2:7", "hello"],
            )
            .await;
            echo.await.expect("not aborted").expect("echoed");
            ran
        })
        .expect("no deadlock")
        .expect("the guest ran");
    let mut log = Vec::new();
    h.write_jsonl(&mut log).expect("in memory");
    (ran, h.now_micros(), log)
}

#[test]
fn udp_guest_command_exchanges_with_a_peer_in_simulated_time() {
    let (ran, micros, log) = udp_exchange(3);
    assert_eq!(
        (ran.exit, ran.stdout.as_str()),
        (0, "hello\n"),
        "stderr: {}",
        ran.stderr
    );
    // 5 ms there, 5 ms back; the guest's CPU costs no simulated time.
    assert_eq!(micros, 10_000);
    let uses: Vec<&str> = ran.checks.iter().map(|(_, u)| u.as_str()).collect();
    assert_eq!(
        uses,
        ["UdpBind", "UdpSend", "UdpReceive"],
        "{:?}",
        ran.checks
    );
    let log = String::from_utf8(log).expect("utf-8");
    for kind in ["bind", "send", "arrive", "receive", "close"] {
        assert!(
            log.contains(&format!("\"kind\":\"{kind}\"")),
            "no {kind} in:\n{log}"
        );
    }
    let (again, _, same_log) = udp_exchange(3);
    assert_eq!(again.stdout, ran.stdout);
    assert_eq!(
        String::from_utf8(same_log).expect("utf-8"),
        log,
        "one seed, two logs"
    );
}

#[test]
fn guest_creates_tcp_and_udp_sockets() {
    let mut sim = Sim::new(1);
    let node = sim.handle().add_node("solo");
    let engine = Engine::new(&engine_config()).expect("an engine");
    let ran = sim
        .block_on(
            async move { run(&engine, &node, "probe-command", &["create", "tcp", "ipv4"]).await },
        )
        .expect("no deadlock")
        .expect("the guest ran");
    assert!(
        ran.stdout.contains("create-tcp-socket: created"),
        "{}",
        ran.stdout
    );
    let ran_udp = {
        let mut sim = Sim::new(1);
        let node = sim.handle().add_node("solo");
        let engine = Engine::new(&engine_config()).expect("an engine");
        sim.block_on(async move {
            run(&engine, &node, "probe-command", &["create", "udp", "ipv6"]).await
        })
        .expect("no deadlock")
        .expect("the guest ran")
    };
    assert!(
        ran_udp.stdout.contains("create-udp-socket: created"),
        "{}",
        ran_udp.stdout
    );
}

/// Set in the child process the namespace test starts.
const IN_NETNS: &str = "SOCKLAB_SIM_IN_EMPTY_NETNS";

#[test]
fn udp_guest_runs_inside_an_empty_network_namespace() {
    if std::env::var_os(IN_NETNS).is_some() {
        // The child: no route leads anywhere here; a real datagram to the
        // simulated server's address cannot even leave.
        let real =
            std::net::UdpSocket::bind("0.0.0.0:0").and_then(|s| s.send_to(b"x", "10.0.0.2:7"));
        assert!(
            real.is_err(),
            "not in an empty namespace: a real datagram left"
        );
        let (ran, micros, _) = udp_exchange(3);
        assert_eq!((ran.stdout.as_str(), micros), ("hello\n", 10_000));
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let child = std::process::Command::new("unshare")
        .arg("-n")
        .arg(&exe)
        .args([
            "--exact",
            "udp_guest_runs_inside_an_empty_network_namespace",
            "--nocapture",
        ])
        .env(IN_NETNS, "1")
        .output();
    match child {
        Ok(out) if out.status.success() => {}
        Ok(out) if String::from_utf8_lossy(&out.stderr).contains("unshare failed") => {
            eprintln!("skipped: unshare -n is not permitted here (needs root)");
        }
        Ok(out) => panic!(
            "the run inside `unshare -n` failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => eprintln!("skipped: no unshare ({e})"),
    }
}
