//! The one harness of the end-to-end tests: one `Runtime` per test binary
//! and its guests loaded once, specs and readers for the JSON report, native
//! `std::net` peers on loopback (UDP echo, TCP line servers and clients); [`proc`]: the `socklab` binary run under
//! deadlines; [`conformance`]: the conformance probes run, normalised and
//! compared; [`seed`]: the seed notes' Python steps; [`sandbox`]: probes
//! under rules (on either network), audit files, case tables; [`peers`]:
//! what a probe reaches, on either network;
//! [`grant_cases`]: the grant matrix's cases; [`networks`]: a table of
//! cases run and compared on both networks.
//!
//! Every wait here has a deadline ([`WAIT`]), every loop that sends is
//! bounded, and every child process is killed when its [`Proc`] is dropped:
//! a broken host fails a test, it never hangs the suite.

#![allow(dead_code)] // each test binary uses its own part of the fixtures

pub mod conformance;
pub mod experiment;
pub mod grant_cases;
pub mod hostile;
pub mod networks;
pub mod peers;
pub mod proc;
pub mod python;
pub mod sandbox;
pub mod seed;
pub mod tcp;
pub mod udp;

#[allow(unused_imports)] // not every test binary runs experiments
pub use experiment::*;
#[allow(unused_imports)] // nor processes
pub use proc::*;
#[allow(unused_imports)] // nor the seed steps
pub use seed::*;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use socklab::exchange::{ClientSpec, ServerSpec};
use socklab::report::{ExchangeRecord, Expect, Report};
use socklab::runtime::{Guest, Runtime};

/// The longest any one step may take. Generous: the suite runs its tests in
/// parallel, on machines with two cores.
pub const WAIT: Duration = Duration::from_secs(30);

/// The IPv4 loopback address.
pub const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// The IPv6 loopback address.
pub const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

/// Port 0 on `ip`: "any free port", read back once bound.
pub fn any_port(ip: IpAddr) -> SocketAddr {
    SocketAddr::new(ip, 0)
}

/// The one `Lab` of this test binary, so each guest compiles once.
pub fn lab() -> Arc<Runtime> {
    static LAB: OnceLock<Arc<Runtime>> = OnceLock::new();
    LAB.get_or_init(|| Arc::new(Runtime::new(None).expect("creating the lab")))
        .clone()
}

/// The one runtime of this test binary for the simulated network: its own
/// engine, so its guests compile apart from [`lab`]'s.
pub fn sim_lab() -> Arc<Runtime> {
    static LAB: OnceLock<Arc<Runtime>> = OnceLock::new();
    LAB.get_or_init(|| {
        let flavor = &socklab::runtime::engine::SIMULATED;
        Arc::new(Runtime::of(flavor, None).expect("creating the simulated lab"))
    })
    .clone()
}

/// Guests loaded by one runtime, by name.
type Loaded = OnceLock<Mutex<HashMap<String, Arc<Guest>>>>;

/// The bundled guest `name` from `loaded`, loading it by `runtime` once.
fn load_once(loaded: &Loaded, runtime: fn() -> Arc<Runtime>, name: &str) -> Arc<Guest> {
    let mut loaded = loaded.get_or_init(Mutex::default).lock().unwrap();
    loaded
        .entry(name.to_string())
        .or_insert_with(|| {
            runtime()
                .load(name)
                .unwrap_or_else(|e| panic!("loading bundled guest {name}: {e:#}"))
        })
        .clone()
}

/// A bundled guest, loaded once per test binary.
pub fn guest(name: &str) -> Arc<Guest> {
    static LOADED: Loaded = OnceLock::new();
    load_once(&LOADED, lab, name)
}

/// A bundled guest for the simulated network, loaded once per test binary.
pub fn sim_guest(name: &str) -> Arc<Guest> {
    static LOADED: Loaded = OnceLock::new();
    load_once(&LOADED, sim_lab, name)
}

/// The sandbox `guest` runs in under `policy`: default limits, quiet.
pub fn sandbox(
    guest: &Guest,
    policy: Arc<socklab::grants::Policy>,
) -> socklab::runtime::state::Sandbox {
    socklab::runtime::state::Sandbox {
        label: format!("{:?} {}", guest.role.side, guest.name).to_lowercase(),
        transport: Some(guest.role.transport),
        policy,
        limits: socklab::limits::Limits::default(),
        verbose: false,
        node: None,
    }
}

/// A server spec for the bundled guest `name`, with the wiring's grants only.
pub fn server_spec(name: &str, listen: SocketAddr, max_sessions: Option<u64>) -> ServerSpec {
    let mut spec = ServerSpec::new(guest(name), listen);
    spec.max_sessions = max_sessions;
    spec
}

/// A client spec for the bundled guest `name`, with the wiring's grants only.
pub fn client_spec(
    name: &str,
    messages: &[Vec<u8>],
    timeout_ms: u32,
    expect: Expect,
) -> ClientSpec {
    let mut spec = ClientSpec::new(guest(name), messages.to_vec());
    spec.timeout_ms = timeout_ms;
    spec.expect = expect;
    spec
}

/// Await `fut`, failing the test if it takes longer than [`WAIT`] (of
/// simulated time when it runs on the simulated network).
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    socklab::runtime::tasks::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|| panic!("{what} did not finish within {WAIT:?}"))
}

/// The JSON document `--json` would print for `runs`.
pub fn json_of(runs: Vec<ExchangeRecord>) -> Value {
    serde_json::from_str(&Report::new(runs).to_json()).expect("the report is valid JSON")
}

/// The bytes of a report payload (`{"text": ..}` or `{"base64": ..}`), or
/// `None` for `null`.
pub fn payload(v: &Value) -> Option<Vec<u8>> {
    let base64 = &base64::engine::general_purpose::STANDARD;
    match (v["text"].as_str(), v["base64"].as_str()) {
        _ if v.is_null() => None,
        (Some(text), _) => Some(text.as_bytes().to_vec()),
        (_, Some(b64)) => Some(base64.decode(b64).expect("valid base64")),
        _ => panic!("not a payload: {v}"),
    }
}

/// The client's messages of the first run of a report.
pub fn client_messages(report: &Value) -> &Vec<Value> {
    report["runs"][0]["client"]["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no client messages in the report:\n{report:#}"))
}

/// Assert that every message of the report's client got `want(message)` back
/// as a complete reply, byte for byte.
pub fn assert_replies(report: &Value, sent: &[Vec<u8>], want: impl Fn(&[u8]) -> Vec<u8>) {
    let records = client_messages(report);
    assert_eq!(
        records.len(),
        sent.len(),
        "a record per message:\n{report:#}"
    );
    for (i, (m, sent)) in records.iter().zip(sent).enumerate() {
        assert_eq!(m["status"], "complete", "#{i}:\n{report:#}");
        assert_eq!(payload(&m["reply"]), Some(want(sent)), "#{i}:\n{report:#}");
        assert_eq!(payload(&m["message"]).as_ref(), Some(sent), "#{i}");
    }
}

/// `message` with the `\n` the TCP client frames it with.
pub fn framed(message: &[u8]) -> Vec<u8> {
    let mut line = message.to_vec();
    line.push(b'\n');
    line
}

/// Work on a thread whose result is collected with a deadline.
pub struct Peer<T> {
    what: String,
    rx: Receiver<std::thread::Result<T>>,
}

/// Run `work` on its own thread (a native peer that blocks on sockets).
pub fn peer<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> Peer<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(catch_unwind(AssertUnwindSafe(work)));
    });
    Peer {
        what: what.to_string(),
        rx,
    }
}

impl<T> Peer<T> {
    /// The peer's result; its panic goes on as this thread's.
    pub fn join(self) -> T {
        match self.rx.recv_timeout(WAIT) {
            Ok(Ok(value)) => value,
            Ok(Err(panic)) => resume_unwind(panic),
            Err(_) => panic!("{} did not finish within {WAIT:?}", self.what),
        }
    }
}

/// Datagrams that must come back byte for byte: ASCII, UTF-8, every byte
/// value (so not UTF-8, with `\n` and NUL inside), 8 KiB, and an empty one.
pub fn tricky_datagrams() -> Vec<Vec<u8>> {
    let every_byte: Vec<u8> = (0..=255u8).rev().collect();
    let large: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
    vec![
        b"hello".to_vec(),
        "h\u{e9}llo w\u{f6}rld \u{2713}".into(),
        every_byte,
        large,
        Vec::new(),
    ]
}

/// Send "one", "two" and "three" to the UDP echo server at `addr`, each
/// echoed before the next.
pub fn echo_three_datagrams(addr: SocketAddr) {
    let client = std::net::UdpSocket::bind(any_port(V4)).unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    for datagram in [&b"one"[..], b"two", b"three"] {
        client.send_to(datagram, addr).unwrap();
        let mut buf = [0; 64];
        let (n, _) = client.recv_from(&mut buf).expect("the echo");
        assert_eq!(&buf[..n], datagram);
    }
}

/// How a native TCP server writes each reply.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// One `write_all` per reply.
    Whole,
    /// One byte per write, with Nagle off and a flush after each byte, so
    /// the reply reaches the client in as many segments as it has bytes.
    ByteAtATime,
}

/// A native TCP server on `ip`: it accepts one connection and answers each
/// line it reads with `answer(line)` until the client closes. The peer yields
/// the lines it received, `\n` included.
pub fn native_tcp_server(
    ip: IpAddr,
    writes: Writes,
    answer: fn(&[u8]) -> Vec<u8>,
) -> (SocketAddr, Peer<Vec<Vec<u8>>>) {
    let listener = TcpListener::bind(any_port(ip)).expect("binding a native TCP server");
    let addr = listener.local_addr().unwrap();
    let peer = peer("the native TCP server", move || {
        let (mut conn, _) = listener.accept().expect("accepting the guest");
        conn.set_read_timeout(Some(WAIT)).unwrap();
        conn.set_nodelay(true).unwrap();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut lines = Vec::new();
        for _ in 0..1000 {
            let mut line = Vec::new();
            if reader.read_until(b'\n', &mut line).expect("reading a line") == 0 {
                break;
            }
            let reply = answer(&line);
            match writes {
                Writes::Whole => conn.write_all(&reply).unwrap(),
                Writes::ByteAtATime => {
                    for byte in &reply {
                        conn.write_all(std::slice::from_ref(byte)).unwrap();
                        conn.flush().unwrap();
                    }
                }
            }
            lines.push(line);
        }
        lines
    });
    (addr, peer)
}

/// A native TCP client: connect to `server`, send each line and read one line
/// back for each, then close. Returns the replies.
pub fn native_tcp_client(server: SocketAddr, lines: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let conn = TcpStream::connect_timeout(&server, WAIT).expect("connecting to the guest");
    conn.set_read_timeout(Some(WAIT)).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut writer = conn;
    let mut replies = Vec::new();
    for line in lines {
        writer.write_all(line).unwrap();
        let mut reply = Vec::new();
        reader
            .read_until(b'\n', &mut reply)
            .expect("reading a reply");
        replies.push(reply);
    }
    replies
}
