//! `socklab guests`: the bundled guests (and the Python ones once built),
//! with the role, transport and language each one has.

use anyhow::Result;

use crate::bad_input;
use crate::inspect::Kind;
use crate::output;
use crate::runtime::Runtime;

/// One row of `socklab guests`.
#[derive(serde::Serialize)]
struct Listed {
    name: &'static str,
    /// `server`, `client`, `command`, or `none`.
    role: &'static str,
    /// `tcp`, `udp`, `any` (a command) or `-`.
    transport: &'static str,
    /// The WASI version it is written against: `0.2` or `0.3`.
    wasi: &'static str,
    /// `rust` or `python`.
    language: &'static str,
    path: String,
    about: &'static str,
}

/// `socklab guests`: the bundled guests (and the Python ones, once built),
/// with the role each one's exports declare.
pub fn list(runtime: &Runtime, json: bool) -> Result<()> {
    let bundled = runtime.bundled();
    if bundled.is_empty() {
        bad_input!(
            "no bundled guests found; build them with `cargo build --release` or set --guest-dir"
        );
    }
    let mut rows = Vec::new();
    for (guest, path) in bundled {
        // Read from the file's names, not compiled: listing stays instant
        // with the Python guests (each a whole interpreter) beside it.
        let outline = runtime.outline(&path.display().to_string())?;
        let (role, transport) = Kind::of_exports(&outline.exports).columns();
        rows.push(Listed {
            name: guest.name,
            role,
            transport,
            wasi: outline.wasi.name(),
            language: guest.language,
            path: path.display().to_string(),
            about: guest.about,
        });
    }
    if json {
        let doc = serde_json::json!({
            "socklab": crate::version::SOCKLAB_VERSION,
            "wasmtime": crate::version::WASMTIME_VERSION,
            "guests": rows,
        });
        output::stdout_line(&serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    let mut text = format!(
        "{:<22} {:<7} {:<9} path  language  wasi  (what it does)\n",
        "name", "role", "transport"
    );
    // The WASI version goes after the columns scripts already read.
    for r in rows {
        text.push_str(&format!(
            "{:<22} {:<7} {:<9} {}  {}  {}  ({})\n",
            r.name, r.role, r.transport, r.path, r.language, r.wasi, r.about
        ));
    }
    output::stdout(&text);
    Ok(())
}
