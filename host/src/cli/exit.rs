//! Every exit code socklab gives, in one place.

use crate::report::Verdict;

/// Every exchange succeeded.
pub const OK: i32 = 0;
/// An exchange failed: a reply lost or wrong, a refusal, a guest error; or
/// an output file could not be written; or `--check-determinism` found two
/// runs of one seed that differ.
pub const FAILED: i32 = 1;
/// Bad input or usage.
pub const BAD_INPUT: i32 = 2;
/// A limit stopped or refused a guest.
pub const LIMIT: i32 = 3;
/// Ctrl-C or SIGTERM cut the command short (128 + SIGINT, as shells say).
pub const INTERRUPTED: i32 = 130;

/// The exit code of `verdict`.
pub fn code(verdict: Verdict) -> i32 {
    match verdict {
        Verdict::Ok => OK,
        Verdict::Failed => FAILED,
        Verdict::Limit => LIMIT,
        Verdict::Interrupted => INTERRUPTED,
        // WASI 0.2 exits carry success or failure, which wasmtime-wasi
        // passes on as 0 or 1.
        Verdict::Exited(status) => status,
    }
}
