//! The `socklab` binary and other processes run under deadlines: their
//! output read line by line, killed when dropped, and what they printed
//! kept for the failure message.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::WAIT;

/// A child process (`socklab` or the seed notes' Python steps) whose output
/// is read line by line on threads; killed when dropped.
pub struct Proc {
    what: String,
    started: Instant,
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

/// `socklab ARGS...` inside `unshare -n`, a network namespace of its own
/// with no interface up, where not even a loopback packet can be sent:
/// how a simulated run proves it touches no real socket. Where `unshare -n`
/// cannot run (not root), plain `socklab`, saying so loudly.
pub fn socklab_offline(args: &[&str]) -> Proc {
    static UNSHARE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let unshare = *UNSHARE.get_or_init(|| {
        Command::new("unshare")
            .args(["-n", "true"])
            .status()
            .is_ok_and(|s| s.success())
    });
    if !unshare {
        eprintln!("SKIPPED: `unshare -n` is not available; running without a network namespace");
        return socklab(args);
    }
    let mut command = Command::new("unshare");
    command
        .args(["-n", env!("CARGO_BIN_EXE_socklab")])
        .args(args);
    spawn(&mut command)
}

/// Run `socklab --no-cache ARGS...` to its end, at most [`WAIT`]: compiled
/// afresh, so the user's cache is left alone.
pub fn socklab_run(args: &[&str]) -> Finished {
    let mut command = socklab_command(&["--no-cache"]);
    command.args(args);
    spawn(&mut command).finish()
}

/// Send SIGTERM, as a service manager stopping socklab would.
pub fn kill_term(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("running kill");
    assert!(status.success(), "kill -TERM {pid} failed");
}

/// `socklab serve ARGS... --json`: `talk` to it at its address, then
/// SIGTERM; it must stop by itself with exit 0 and a report, whose
/// `served` figures are returned with everything it printed.
pub fn serve_until_sigterm(args: &[&str], talk: impl FnOnce(SocketAddr)) -> (Value, Finished) {
    let mut command = socklab_command(&["serve"]);
    command.args(args).arg("--json");
    let mut server = spawn(&mut command);
    talk(server.listening_addr());
    kill_term(server.pid());
    let out = server.finish();
    out.assert_code(0);
    let served = out.json()["runs"][0]["server"]["served"].clone();
    (served, out)
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
            started: Instant::now(),
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
            took: self.started.elapsed(),
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
    /// Wall-clock time from start to exit.
    pub took: Duration,
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
