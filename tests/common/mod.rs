//! Shared fixtures for the end-to-end tests: one `Lab` per test binary, the
//! `socklab` binary run under deadlines, native `std::net` peers on loopback,
//! and readers for the JSON report.
//!
//! Every wait here has a deadline ([`WAIT`]), every loop that sends is
//! bounded, and every child process is killed when its [`Proc`] is dropped:
//! a broken host fails a test, it never hangs the suite.

#![allow(dead_code)] // each test binary uses its own part of the fixtures

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

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

/// A bundled guest, loaded once per test binary.
pub fn guest(name: &str) -> Arc<Guest> {
    static GUESTS: OnceLock<Mutex<HashMap<String, Arc<Guest>>>> = OnceLock::new();
    let mut loaded = GUESTS.get_or_init(Mutex::default).lock().unwrap();
    loaded
        .entry(name.to_string())
        .or_insert_with(|| {
            lab()
                .load(name)
                .unwrap_or_else(|e| panic!("loading bundled guest {name}: {e:#}"))
        })
        .clone()
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

/// Await `fut`, failing the test if it takes longer than [`WAIT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {WAIT:?}"))
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

/// A child process (`socklab` or the seed notes' Python steps) whose output
/// is read line by line on threads; killed when dropped.
pub struct Proc {
    what: String,
    child: Child,
    stdout: Lines,
    stderr: Lines,
}

/// Which output of a [`Proc`].
#[derive(Clone, Copy, Debug)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One output stream of a [`Proc`]: lines arrive on `rx` until it closes.
struct Lines {
    rx: Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn read(stream: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                if tx
                    .send(String::from_utf8_lossy(&line).into_owned())
                    .is_err()
                {
                    return;
                }
                line.clear();
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
        }
    }

    /// The next line, `Ok(None)` at the end, `Err` when the deadline passed.
    fn next(&mut self, deadline: Instant) -> Result<Option<&str>, ()> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok(line) => {
                self.seen.push(line);
                Ok(self.seen.last().map(String::as_str))
            }
            Err(RecvTimeoutError::Disconnected) => Ok(None),
            Err(RecvTimeoutError::Timeout) => Err(()),
        }
    }
}

/// `socklab ARGS...`, the binary cargo built for these tests.
pub fn socklab(args: &[&str]) -> Proc {
    Proc::spawn(&mut socklab_command(args))
}

/// The command [`socklab`] runs, to change before spawning it.
pub fn socklab_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_socklab"));
    command.args(args);
    command
}

/// Spawn `command` as a [`Proc`].
pub fn spawn(command: &mut Command) -> Proc {
    Proc::spawn(command)
}

/// The resident memory a process may reach in the tests of bad input before
/// its watch kills it: far above what socklab needs, far below what would
/// hurt the machine.
pub const MEMORY_CEILING: u64 = 1 << 30;

/// Watches a process's memory: kills it if its resident set passes a
/// ceiling, and remembers its peak.
pub struct MemoryWatch {
    done: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<(u64, bool)>>,
}

impl MemoryWatch {
    /// Start watching `pid` every 10 ms.
    pub fn start(pid: u32, ceiling: u64) -> MemoryWatch {
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = done.clone();
        let thread = std::thread::spawn(move || {
            let (mut peak, mut killed) = (0, false);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let Some((rss, hwm)) = memory_of(pid) else {
                    break;
                };
                peak = peak.max(hwm).max(rss);
                if rss > ceiling {
                    let _ = Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status();
                    killed = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            (peak, killed)
        });
        MemoryWatch {
            done,
            thread: Some(thread),
        }
    }

    /// The peak resident memory seen, in bytes; panics if the ceiling was
    /// passed.
    pub fn peak(mut self) -> u64 {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
        let (peak, killed) = self.thread.take().unwrap().join().unwrap();
        assert!(
            !killed,
            "the process passed {MEMORY_CEILING} bytes of memory and was killed"
        );
        peak
    }
}

/// `VmRSS` and `VmHWM` of `pid`, in bytes, while it lives.
fn memory_of(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Run socklab with `args`, expect bad input: exit 2, nothing on stdout, no
/// panic, and one line on stderr, an error that mentions each of `mentions`.
pub fn bad_input(args: &[&str], mentions: &[&str]) {
    assert_one_error_line(&socklab(args).finish(), 2, mentions);
}

/// Exit `code`, nothing on stdout, no panic, and one `error:` line on
/// stderr that mentions each of `mentions`.
pub fn assert_one_error_line(out: &Finished, code: i32, mentions: &[&str]) {
    out.assert_code(code);
    assert!(!out.stderr.contains("panicked"), "{out}");
    assert!(out.stdout.is_empty(), "{out}");
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {out}");
    assert!(lines[0].starts_with("error: "), "{out}");
    for word in mentions {
        assert!(lines[0].contains(word), "it should mention {word:?}: {out}");
    }
}

/// Whether `python3` can run; if not, say loudly that the test is skipped.
pub fn python3() -> bool {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: python3 not found; the seed notes' steps were not run");
    }
    found
}

/// `python3 tests/seed_steps.py ARGS...`: the seed notes' socket steps.
pub fn seed_steps(args: &[&str]) -> Proc {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/seed_steps.py");
    Proc::spawn(Command::new("python3").arg("-u").arg(script).args(args))
}

impl Proc {
    fn spawn(command: &mut Command) -> Proc {
        let what = format!("{command:?}");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {what}: {e}"));
        let stdout = Lines::read(child.stdout.take().unwrap());
        let stderr = Lines::read(child.stderr.take().unwrap());
        Proc {
            what,
            child,
            stdout,
            stderr,
        }
    }

    fn lines(&mut self, stream: Stream) -> &mut Lines {
        match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        }
    }

    /// Wait for a line on `stream` that starts with `prefix`; return the rest
    /// of it, trimmed.
    pub fn wait_line(&mut self, stream: Stream, prefix: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.lines(stream).next(deadline) {
                Ok(Some(line)) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.trim().to_string();
                    }
                }
                Ok(None) => panic!(
                    "{} ended before printing {prefix:?}\n{}",
                    self.what,
                    self.seen()
                ),
                Err(()) => panic!(
                    "{} did not print {prefix:?} within {WAIT:?}\n{}",
                    self.what,
                    self.seen()
                ),
            }
        }
    }

    /// The address from socklab's `listening on ADDR` line on stderr.
    pub fn listening_addr(&mut self) -> SocketAddr {
        let addr = self.wait_line(Stream::Stderr, "listening on ");
        addr.parse()
            .unwrap_or_else(|e| panic!("`listening on {addr}`: {e}\n{}", self.seen()))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait for the process to exit by itself and collect all it printed.
    pub fn finish(self) -> Finished {
        self.finish_within(WAIT)
    }

    /// [`Proc::finish`] for a process known to take longer than [`WAIT`].
    pub fn finish_within(mut self, limit: Duration) -> Finished {
        let deadline = Instant::now() + limit;
        for stream in [Stream::Stdout, Stream::Stderr] {
            loop {
                match self.lines(stream).next(deadline) {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(()) => panic!(
                        "{} did not exit within {limit:?}\n{}",
                        self.what,
                        self.seen()
                    ),
                }
            }
        }
        // Both pipes are closed: the process has exited or is exiting.
        let status = self.child.wait().expect("waiting for the child");
        Finished {
            what: self.what.clone(),
            code: status.code(),
            stdout: self.stdout.seen.concat(),
            stderr: self.stderr.seen.concat(),
        }
    }

    /// Everything printed so far, for assertion messages.
    pub fn seen(&self) -> String {
        let out = self.stdout.seen.concat();
        let err = self.stderr.seen.concat();
        format!("--- stdout so far:\n{out}--- stderr so far:\n{err}---")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process that has exited, with everything it printed.
pub struct Finished {
    pub what: String,
    /// The exit code; `None` if a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// Assert the exit code, showing everything the process printed if not.
    pub fn assert_code(&self, code: i32) -> &Finished {
        assert_eq!(self.code, Some(code), "exit code of {self}");
        self
    }

    /// The bytes of a `received HEX` line (what the seed steps print).
    pub fn received(&self) -> Vec<u8> {
        let hex = self
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("received "))
            .unwrap_or_else(|| panic!("no `received` line: {self}"));
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// Stdout as the one JSON document `--json` promises.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {self}"))
    }
}

impl fmt::Display for Finished {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (exit {:?})\n--- stdout:\n{}--- stderr:\n{}---",
            self.what, self.code, self.stdout, self.stderr
        )
    }
}
