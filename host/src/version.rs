//! Small things every layer shares: the versions every report records, and
//! hex for hashes.

/// socklab's version, recorded in every report.
pub const SOCKLAB_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The wasmtime version socklab was built with (read from `Cargo.lock` by
/// `build.rs`).
pub const WASMTIME_VERSION: &str = env!("SOCKLAB_WASMTIME_VERSION");

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
