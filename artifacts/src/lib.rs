//! Where the build put socklab's bundled guests.
//!
//! `build.rs` compiles every guest that `guest/Cargo.toml` declares for
//! `wasm32-wasip2` and writes the list below, and [`foreach_guest!`], from
//! that one declaration. The host binary embeds only these paths, never the
//! components: a guest is read from disk at run time, so rebuilding or
//! swapping one never rebuilds the host.

/// One bundled guest component.
#[derive(Debug, Clone, Copy)]
pub struct Guest {
    /// The name users type (`socklab serve tcp-echo-server`): the guest
    /// crate's package name.
    pub name: &'static str,
    /// One line on what it does, for `socklab guests`: the crate's
    /// `[package.metadata.socklab] about`.
    pub about: &'static str,
    /// Absolute path of the component the build produced.
    pub path: &'static str,
}

/// A Python guest: built by `guest-py/build.sh` into a directory of its
/// own, so only its name and line are known here.
#[derive(Debug, Clone, Copy)]
pub struct PythonGuest {
    /// The name users type, and the component's file stem.
    pub name: &'static str,
    /// One line on what it does, for `socklab guests`.
    pub about: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/guests.rs"));

/// The directory the build wrote the guests to (`--guest-dir`'s fallback).
pub fn build_dir() -> Option<&'static std::path::Path> {
    GUESTS
        .first()
        .and_then(|g| std::path::Path::new(g.path).parent())
}
