//! socklab's own stdout and stderr: writes that never panic.
//!
//! Rust's `print!` panics when stdout is a closed pipe (`socklab guests |
//! head -1`), and `eprint!` does the same for stderr. Unix tools end quietly
//! instead, killed by `SIGPIPE`: [`stdout`] does exactly that, so a pipeline
//! reads as it would with any other tool. Lines for stderr ([`say!`]) are
//! dropped when stderr is gone: nobody is left to read them.

use std::io::Write;

/// Write a line to stderr like `eprintln!`, without ever panicking.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => { $crate::output::stderr_line(&format!($($arg)*)) };
}

/// Write `text` to stdout and flush it. On a closed pipe the process ends
/// as Unix tools do (by `SIGPIPE`); any other write error ends it with exit
/// code 1 and a line on stderr.
pub fn stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => end_by_sigpipe(),
        Err(e) => {
            say!("error: cannot write to stdout: {e}");
            std::process::exit(1);
        }
    }
}

/// `text` and a newline to stdout, as [`stdout`] writes.
pub fn stdout_line(text: &str) {
    stdout(&format!("{text}\n"));
}

/// One line on stderr, dropped if stderr cannot be written.
pub fn stderr_line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// End the process the way a Unix tool ends when its reader has gone: by
/// the default action of `SIGPIPE` (Rust ignores that signal, so restore it
/// first). Falls back to exit code 141, what a shell reports for it.
fn end_by_sigpipe() -> ! {
    #[cfg(unix)]
    // SAFETY: resetting a signal's disposition and raising it are
    // async-signal-safe libc calls with no memory effects.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    std::process::exit(141)
}
