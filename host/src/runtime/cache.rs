//! The compiled-component cache: a guest compiled once starts in
//! milliseconds the next time.
//!
//! An entry is keyed on the component file's content, the engine's settings
//! (wasmtime's precompile-compatibility hash: target, tunables, features such
//! as epoch interruption) and the wasmtime version, so an entry is never
//! loaded by an engine it was not made for. Entries live under the user's
//! cache directory (`$XDG_CACHE_HOME/socklab` or `~/.cache/socklab`, mode
//! 0700), are written to a temporary file and renamed, and carry a SHA-256 of
//! their payload that socklab checks before handing the bytes to wasmtime: a
//! corrupt or tampered entry is rebuilt, never loaded.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::version::WASMTIME_VERSION;
use crate::version::hex;

/// The first bytes of every entry; bump the digit when the layout changes.
const MAGIC: &[u8; 8] = b"SOCKLAB1";

/// Where compiled components are kept, and how often it helped.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    /// Loads served from the cache.
    pub hits: AtomicU64,
    /// Loads that compiled (no entry, or a bad one).
    pub misses: AtomicU64,
}

impl Cache {
    /// The cache in `dir`, created with mode 0700 if missing.
    pub fn open(dir: PathBuf) -> Result<Cache> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&dir)
            .with_context(|| format!("cannot create the cache directory {}", dir.display()))?;
        Ok(Cache {
            dir,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    /// The user's cache directory for socklab, if the platform has one.
    pub fn default_dir() -> Option<PathBuf> {
        dirs::cache_dir().map(|d| d.join("socklab"))
    }

    /// The component whose file has SHA-256 `file_sha`, from the cache, or
    /// compiled by `compile` and stored.
    pub fn get_or_compile(
        &self,
        engine: &Engine,
        file_sha: &str,
        compile: impl FnOnce() -> Result<Component>,
    ) -> Result<Component> {
        let path = self.entry_path(engine, file_sha);
        if let Some(component) = load(engine, &path) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(component);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let component = compile()?;
        // A cache that cannot be written only costs speed.
        if let Err(e) = store(&path, &component) {
            eprintln!("warning: cannot write the compiled-component cache: {e:#}");
        }
        Ok(component)
    }

    /// `<dir>/<key>.cwasm`, the key hashing content, settings and version.
    pub fn entry_path(&self, engine: &Engine, file_sha: &str) -> PathBuf {
        let mut hasher = ShaHasher(Sha256::new());
        file_sha.hash(&mut hasher);
        engine.precompile_compatibility_hash().hash(&mut hasher);
        WASMTIME_VERSION.hash(&mut hasher);
        self.dir
            .join(format!("{}.cwasm", hex(&hasher.0.finalize())))
    }
}

/// Read and check an entry; `None` if missing, corrupt or refused by wasmtime.
fn load(engine: &Engine, path: &Path) -> Option<Component> {
    let bytes = fs::read(path).ok()?;
    let (magic, rest) = bytes.split_at_checked(MAGIC.len())?;
    let (sum, payload) = rest.split_at_checked(32)?;
    if magic != MAGIC || Sha256::digest(payload).as_slice() != sum {
        return None;
    }
    // SAFETY: the payload is exactly what `Component::serialize` produced for
    // an engine with these settings (the key says so), and its checksum shows
    // it has not changed since socklab wrote it.
    unsafe { Component::deserialize(engine, payload) }.ok()
}

/// Write an entry atomically: a temporary file in the same directory, then
/// a rename.
fn store(path: &Path, component: &Component) -> Result<()> {
    let payload = component.serialize().map_err(anyhow::Error::from)?;
    let dir = path.parent().context("cache entry without a directory")?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(MAGIC)?;
    tmp.write_all(&Sha256::digest(&payload))?;
    tmp.write_all(&payload)?;
    tmp.persist(path)?;
    Ok(())
}

/// Feeds `Hash` into SHA-256, for a key that is stable across runs.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        unreachable!("only the full digest is used")
    }
}
