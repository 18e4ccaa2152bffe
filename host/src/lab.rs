//! Loading guests: one engine and linker for the process, and the checks that
//! turn a path or a bundled name into a compiled component of a known role.
//!
//! A guest is chosen at run time: [`Lab::load`] reads the file, checks that
//! it is a component (not a core module, not some other file), compiles it,
//! reads its role from its exports and pre-instantiates it against the host's
//! imports. Every failure is a [`BadInput`](crate::error::BadInput) naming the
//! file and what to do.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, InstancePre, Linker};
use wasmtime::{Config, Engine};

use crate::audit::Audit;
use crate::bad_input;
use crate::cache::Cache;
use crate::input::{MAX_COMPONENT, read_capped};
use crate::limits::TICK;
use crate::roles::{Role, bindings};
use crate::state::GuestState;

/// The host's engine and linker, shared by every guest in the process.
pub struct Lab {
    engine: Engine,
    linker: Linker<GuestState>,
    /// Where bundled guests are looked up first (`--guest-dir`).
    guest_dir: Option<PathBuf>,
    /// Compiled components by content hash: a test or an `exchange` that
    /// loads the same file twice compiles it once.
    compiled: Mutex<HashMap<String, Component>>,
    /// Show guests' `debug` log lines too.
    pub verbose: bool,
    /// Where every guest's decisions are written (`--audit FILE`).
    pub audit: Option<Arc<Audit>>,
    /// Compiled components kept across runs (none with `--no-cache`).
    pub cache: Option<Cache>,
}

/// A guest ready to instantiate.
pub struct Guest {
    /// What the user named it: a bundled name or the file's stem.
    pub name: String,
    pub path: PathBuf,
    /// SHA-256 of the component file, hex.
    pub sha256: String,
    pub role: Role,
    pub pre: InstancePre<GuestState>,
}

impl Lab {
    /// An engine configured for socklab's guests, and a linker that offers
    /// them WASI 0.2 and the `socklab:lab/host` interface.
    pub fn new(guest_dir: Option<PathBuf>) -> Result<Lab> {
        if let Some(dir) = guest_dir.as_ref().filter(|d| !d.is_dir()) {
            bad_input!(
                "--guest-dir {} is not a directory; give the directory that holds the guest components",
                dir.display()
            );
        }
        if let Some(dir) = env_guest_dir().filter(|d| !d.is_dir()) {
            bad_input!(
                "SOCKLAB_GUEST_DIR={} is not a directory; set it to the directory that holds the guest components, or unset it",
                dir.display()
            );
        }
        keep_freed_memory();
        let mut config = Config::new();
        config.wasm_component_model(true);
        // Epoch ticks drive the CPU limit and make spinning guests yield.
        config.epoch_interruption(true);
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("configuring wasmtime")?;
        start_ticker(&engine);
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking WASI")?;
        bindings::socklab::lab::host::add_to_linker::<GuestState, HasSelf<GuestState>>(
            &mut linker,
            |state| state,
        )
        .map_err(anyhow::Error::from)
        .context("linking socklab:lab/host")?;
        crate::sandbox::add_overrides(&mut linker).context("linking socklab's socket overrides")?;
        Ok(Lab {
            engine,
            linker,
            guest_dir,
            compiled: Mutex::default(),
            verbose: false,
            audit: None,
            cache: None,
        })
    }

    /// Find, read, check and compile `spec` without asking for a role:
    /// its path, SHA-256 and component.
    pub fn compile_only(&self, spec: &str) -> Result<(PathBuf, String, Component)> {
        let (_, path) = self.resolve(spec)?;
        let bytes = match read_capped(&path, MAX_COMPONENT, "a guest component") {
            Ok(bytes) => bytes,
            Err(e) => bad_input!("guest {} {e}", path.display()),
        };
        check_component_header(&path, &bytes)?;
        let sha256 = hex(&Sha256::digest(&bytes));
        let component = self.compile(&path, &sha256, &bytes)?;
        Ok((path, sha256, component))
    }

    /// Find, read, check and compile the guest named `spec`: a path to a
    /// component file, or the name of a bundled guest.
    pub fn load(&self, spec: &str) -> Result<Arc<Guest>> {
        let (name, _) = self.resolve(spec)?;
        let (path, sha256, component) = self.compile_only(spec)?;

        let exports: Vec<String> = component
            .component_type()
            .exports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        let Some(role) = exports.iter().find_map(|e| Role::from_export(e)) else {
            if exports.is_empty() && component.component_type().imports(&self.engine).len() == 0 {
                bad_input!(
                    "guest {} is an empty component (it imports and exports nothing): is the file cut short? Build or copy it again",
                    path.display()
                );
            }
            let list = if exports.is_empty() {
                "nothing".to_string()
            } else {
                exports.join(", ")
            };
            bad_input!(
                "guest {} is not a socklab role: it exports {list}; a guest must export one of \
                 socklab:lab/{{tcp-server,tcp-client,udp-server,udp-client}}-role (see wit/roles.wit)",
                path.display()
            );
        };
        let pre = match self.linker.instantiate_pre(&component) {
            Ok(pre) => pre,
            Err(e) => bad_input!(
                "guest {} needs an import socklab does not provide: {e:#}; build it against wit/worlds.wit",
                path.display()
            ),
        };
        Ok(Arc::new(Guest {
            name,
            path,
            sha256,
            role,
            pre,
        }))
    }

    /// The bundled guests that can be found, with their paths: the Rust ones
    /// the build made, then the Python ones once `guest-py/build.sh` has
    /// made them.
    pub fn bundled(&self) -> Vec<(Bundled, PathBuf)> {
        let rust = socklab_artifacts::GUESTS.iter().map(|g| Bundled {
            name: g.name,
            about: g.about,
            language: "rust",
        });
        rust.chain(PYTHON_GUESTS.iter().copied())
            .filter_map(|g| self.find_bundled(g.name).map(|p| (g, p)))
            .collect()
    }

    /// A path, if `spec` looks like one or names an existing file; otherwise
    /// a bundled guest: in `--guest-dir`, then `$SOCKLAB_GUEST_DIR`, then
    /// where the build put it.
    fn resolve(&self, spec: &str) -> Result<(String, PathBuf)> {
        let as_path = Path::new(spec);
        let looks_like_path = spec.contains(std::path::MAIN_SEPARATOR)
            || spec.contains('/')
            || spec.ends_with(".wasm");
        if looks_like_path || as_path.is_file() {
            if !as_path.exists() {
                bad_input!(
                    "guest file {spec} does not exist; give a path to a component or a bundled name from `socklab guests`"
                );
            }
            let name = as_path
                .file_stem()
                .map_or(spec.to_string(), |s| s.to_string_lossy().into_owned());
            return Ok((name, as_path.to_path_buf()));
        }
        match self.find_bundled(spec) {
            Some(path) => Ok((spec.to_string(), path)),
            None => bad_input!(
                "no guest named {spec}: it is not a file and not a bundled guest; run `socklab guests` to list them"
            ),
        }
    }

    fn find_bundled(&self, name: &str) -> Option<PathBuf> {
        let file = format!("{}.wasm", name.replace('-', "_"));
        let dirs = [self.guest_dir.clone(), env_guest_dir()];
        for dir in dirs.into_iter().flatten() {
            for candidate in [dir.join(&file), dir.join(format!("{name}.wasm"))] {
                if candidate.is_file() {
                    return Some(candidate);
                }
            }
        }
        let built = socklab_artifacts::GUESTS
            .iter()
            .find(|g| g.name == name)
            .map(|g| PathBuf::from(g.path))
            .filter(|p| p.is_file());
        built.or_else(|| {
            PYTHON_GUESTS.iter().find(|g| g.name == name)?;
            python_guest_dirs()
                .into_iter()
                .map(|d| d.join(format!("{name}.wasm")))
                .find(|p| p.is_file())
        })
    }

    fn compile(&self, path: &Path, sha256: &str, bytes: &[u8]) -> Result<Component> {
        if let Some(component) = self.compiled.lock().unwrap().get(sha256) {
            return Ok(component.clone());
        }
        let compile = || match Component::new(&self.engine, bytes) {
            Ok(c) => Ok(c),
            Err(e) => bad_input!(
                "guest {} is not a valid component: {}; if it was cut short (a partial copy or download), build or copy it again",
                path.display(),
                format!("{e:#}").replace('\n', " ")
            ),
        };
        let component = match &self.cache {
            Some(cache) => cache.get_or_compile(&self.engine, sha256, compile)?,
            None => compile()?,
        };
        self.compiled
            .lock()
            .unwrap()
            .insert(sha256.to_string(), component.clone());
        Ok(component)
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Pre-instantiate `component` against socklab's imports (WASI 0.2 and
    /// `socklab:lab/host`).
    pub fn instantiate_pre(
        &self,
        component: &Component,
    ) -> wasmtime::Result<InstancePre<GuestState>> {
        self.linker.instantiate_pre(component)
    }
}

/// A guest `socklab guests` lists.
#[derive(Clone, Copy, Debug)]
pub struct Bundled {
    /// The name users type.
    pub name: &'static str,
    /// One line on what it does.
    pub about: &'static str,
    /// What it is written in: `rust` or `python`.
    pub language: &'static str,
}

/// The guests `guest-py/build.sh` makes with componentize-py, found once
/// built.
pub const PYTHON_GUESTS: [Bundled; 2] = [
    Bundled {
        name: "py-tcp-client",
        about: "the TCP client in Python (componentize-py), line replies",
        language: "python",
    },
    Bundled {
        name: "py-udp-echo-server",
        about: "the UDP echo server in Python (componentize-py)",
        language: "python",
    },
];

/// Where the Python guests are looked for: `$SOCKLAB_PY_GUEST_DIR`, then
/// `guest-py/` in the target directory the build used (where
/// `guest-py/build.sh` writes them by default).
fn python_guest_dirs() -> Vec<PathBuf> {
    let env = std::env::var_os("SOCKLAB_PY_GUEST_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from);
    // The build's guests live in TARGET/PROFILE/build/socklab-artifacts-*/...
    let target = socklab_artifacts::GUESTS.first().and_then(|g| {
        let path = Path::new(g.path);
        let build = path
            .ancestors()
            .find(|a| a.file_name().is_some_and(|n| n == "build"))?;
        Some(build.parent()?.parent()?.join("guest-py"))
    });
    env.into_iter().chain(target).collect()
}

/// `$SOCKLAB_GUEST_DIR`, when set and not empty.
fn env_guest_dir() -> Option<PathBuf> {
    std::env::var_os("SOCKLAB_GUEST_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

/// Keep up to 64 MiB of freed heap in the process instead of handing it back
/// to the kernel at once (glibc's default trims above 128 KiB).
///
/// wasmtime-wasi allocates a zeroed 64 KiB buffer for every datagram and
/// every stream read; with trimming, each one came back as fresh pages, and
/// page faults with their zeroing took a tenth of a UDP echo server's time
/// (`perf`: `exc_page_fault`, `clear_page_erms` under
/// `IncomingDatagramStream::poll_recv_ready`). Kept, the same pages are
/// reused: `socklab bench` UDP rates went from 0.2-0.5x to 0.65-0.75x native.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of glibc's allocator; any value
    // is valid, and it may be called at any time from any thread.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

/// Advance `engine`'s epoch every [`TICK`] for as long as the engine lives.
fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("socklab-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })
        .expect("spawning the epoch thread");
}

/// Tell apart a component, a core module and anything else by the header:
/// `\0asm`, then a version word (1 for a core module) and a layer (1 for a
/// component).
fn check_component_header(path: &Path, bytes: &[u8]) -> Result<()> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        bad_input!(
            "guest {} is not a WebAssembly file (it does not start with \\0asm); give a component built for wasm32-wasip2",
            path.display()
        );
    }
    let layer = u16::from_le_bytes([bytes[6], bytes[7]]);
    if layer == 0 {
        bad_input!(
            "guest {} is a core WebAssembly module (a WASI preview 1 program, say), not a component; build it for wasm32-wasip2 (or wrap it with `wasm-tools component new --adapt`)",
            path.display()
        );
    }
    Ok(())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
