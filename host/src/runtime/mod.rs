//! The runtime: the only place a guest's `Store` is built.
//!
//! A [`Runtime`] is an engine and its linker per WASI version (one
//! [`engine::Flavor`] each: WASI 0.2 on the host's network, and its WASI 0.3
//! twin, made when the first 0.3 guest is loaded), the guests loaded into
//! them and the compiled-component cache. Calling a guest and what its call
//! left behind are in [`call`]; the data of one guest's store (its own
//! `WasiCtx` with its grants, and the host side of `socklab:lab/host`) in
//! [`state`].
//!
//! # Layout
//! - [`engine`]: each flavor's engine settings, the epoch ticker;
//! - [`wasi`]: a component's WASI version, from its import names, before it
//!   is compiled;
//! - [`link`]: WASI 0.2 without its sockets, the sockets (one function per
//!   network), `socklab:lab/host`; the WASI 0.3 linker;
//! - [`overrides`]: socklab's socket creation, `accept` and name lookup over
//!   wasmtime-wasi's; [`overrides03`]: the same for 0.3 socket creation;
//! - [`udp`]: socklab's own WASI 0.2 UDP on the host's network (tokio's
//!   `UdpSocket`, no task per datagram), linked instead of wasmtime-wasi's;
//! - [`host03`]: `socklab:lab/host@0.2.0`, the stop signal as a `future`;
//! - [`guests`]: where a guest named by the user is found;
//! - [`load`]: from a file to a compiled component of a known role;
//! - [`cache`]: compiled components kept across runs;
//! - [`state`]: one guest's store data (and, in `state/sim.rs`, how the
//!   simulated network sees it);
//! - [`call`]: a store with the guest's limits in force, the call, its
//!   outcome; [`call03`]: the call of a WASI 0.3 role, inside
//!   `run_concurrent`, and its records;
//! - [`tasks`]: spawning, sleeping and timing out on the real network's
//!   tokio or the simulated network's executor.
//!
//! The runtime knows the grants and the limits below it, never the
//! commands, exchanges or reports above it.

pub mod cache;
pub mod call;
pub mod call03;
pub mod engine;
pub mod guests;
pub mod host03;
pub mod link;
pub mod load;
pub mod overrides;
pub mod overrides03;
pub mod state;
pub mod tasks;
pub mod udp;
pub mod wasi;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context, Result};
use wasmtime::Engine;
use wasmtime::component::{Component, InstancePre, Linker};

use self::cache::Cache;
pub use self::call::{Failure, Outcome, ServerWires};
use self::engine::Flavor;
pub use self::guests::{Bundled, GuestDirs};
pub use self::load::Guest;
use self::state::GuestState;
use crate::bad_input;
use crate::grants::audit::Audit;
use crate::roles::Wasi;

/// One engine and its linker.
struct Arm {
    engine: Engine,
    linker: Linker<GuestState>,
}

impl Arm {
    fn new(flavor: &Flavor) -> Result<Arm> {
        let engine = engine::engine(flavor).context("configuring wasmtime")?;
        let mut linker = Linker::new(&engine);
        (flavor.link)(&mut linker)?;
        Ok(Arm { engine, linker })
    }
}

/// An engine and linker per WASI version, shared by every guest of a
/// command.
pub struct Runtime {
    /// The WASI 0.2 engine and linker.
    p2: Arm,
    /// The WASI 0.3 engine and linker, made for the first 0.3 guest (the
    /// error, as text, if that failed).
    p3: OnceLock<Result<Arm, String>>,
    flavor: &'static Flavor,
    /// Where bundled guests are looked up.
    dirs: GuestDirs,
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

/// A component read, checked and compiled, before any role is asked of it.
pub struct Compiled {
    /// What the user named it.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// Its SHA-256, hex.
    pub sha256: String,
    /// The compiled component.
    pub component: Component,
    /// The WASI version it is written against, which chose its engine.
    pub wasi: Wasi,
}

/// What a component file declares, read from its bytes without compiling
/// it: enough to list it, in milliseconds however large it is.
pub struct Outline {
    /// Its file.
    pub path: PathBuf,
    /// The WASI version it is written against.
    pub wasi: Wasi,
    /// The names of its exports; empty if the file does not parse (compiling
    /// it then says why).
    pub exports: Vec<String>,
}

impl Runtime {
    /// A runtime for WASI 0.2 guests on the host's network.
    pub fn new(guest_dir: Option<PathBuf>) -> Result<Runtime> {
        Runtime::of(&engine::REAL, guest_dir)
    }

    /// A runtime of `flavor`.
    pub fn of(flavor: &'static Flavor, guest_dir: Option<PathBuf>) -> Result<Runtime> {
        let dirs = GuestDirs::new(guest_dir)?;
        Ok(Runtime {
            p2: Arm::new(flavor)?,
            p3: OnceLock::new(),
            flavor,
            dirs,
            compiled: Mutex::default(),
            verbose: false,
            audit: None,
            cache: None,
        })
    }

    /// Find and read `spec`, and read its WASI version and exports without
    /// compiling it (`socklab guests`: a Python guest takes many seconds to
    /// compile).
    pub fn outline(&self, spec: &str) -> Result<Outline> {
        let (_, path) = self.dirs.resolve(spec)?;
        let file = load::read(&path)?;
        let wasi = wasi::version_of(&path, &file.bytes)?;
        let exports = wasi::names(&file.bytes).map_or_else(Vec::new, |(_, exports)| exports);
        Ok(Outline {
            path,
            wasi,
            exports,
        })
    }

    /// Find, read, check and compile `spec` without asking for a role.
    pub fn compile(&self, spec: &str) -> Result<Compiled> {
        let (name, path) = self.dirs.resolve(spec)?;
        let file = load::read(&path)?;
        let wasi = wasi::version_of(&path, &file.bytes)?;
        if wasi == Wasi::P3 && self.flavor.wasi03.is_none() {
            bad_input!(
                "guest {} is a WASI 0.3 component, and the {} network runs WASI 0.2 guests only for now; run it on the real network",
                path.display(),
                self.flavor.name
            );
        }
        if let Some(component) = self.compiled.lock().unwrap().get(&file.sha256) {
            return Ok(Compiled {
                name,
                path,
                sha256: file.sha256,
                component: component.clone(),
                wasi,
            });
        }
        let engine = &self.arm(wasi)?.engine;
        let compile = || load::compile(engine, &file);
        let component = match &self.cache {
            Some(cache) => cache.get_or_compile(engine, &file.sha256, compile)?,
            None => compile()?,
        };
        self.compiled
            .lock()
            .unwrap()
            .insert(file.sha256.clone(), component.clone());
        Ok(Compiled {
            name,
            path,
            sha256: file.sha256,
            component,
            wasi,
        })
    }

    /// The engine and linker of `wasi`, the 0.3 one made on first use.
    fn arm(&self, wasi: Wasi) -> Result<&Arm> {
        let Some(flavor) = (match wasi {
            Wasi::P2 => return Ok(&self.p2),
            Wasi::P3 => self.flavor.wasi03,
        }) else {
            bad_input!(
                "this is a WASI 0.3 component, and the {} network runs WASI 0.2 guests only for now; run it on the real network",
                self.flavor.name
            );
        };
        let arm = self
            .p3
            .get_or_init(|| Arm::new(flavor).map_err(|e| format!("{e:#}")));
        arm.as_ref()
            .map_err(|e| anyhow::anyhow!("setting up the WASI 0.3 engine: {e}"))
    }

    /// Find, read, check and compile the guest named `spec` (a path to a
    /// component file, or the name of a bundled guest), read its role, and
    /// pre-instantiate it against this runtime's imports.
    pub fn load(&self, spec: &str) -> Result<Arc<Guest>> {
        let Compiled {
            name,
            path,
            sha256,
            component,
            wasi,
        } = self.compile(spec)?;
        let role = load::role_of(self.engine(wasi)?, &path, &component, wasi)?;
        let pre = match self.instantiate_pre(&component, wasi) {
            Ok(pre) => pre,
            Err(e) => bad_input!(
                "guest {} needs an import socklab does not provide: {}; build it against {}",
                path.display(),
                format!("{e:#}").replace('\n', " "),
                match wasi {
                    Wasi::P2 => "wit/worlds.wit",
                    Wasi::P3 => "wit/p3/worlds.wit",
                }
            ),
        };
        Ok(Arc::new(Guest {
            name,
            path,
            sha256,
            role,
            wasi,
            pre,
        }))
    }

    /// Pre-instantiate `component` (of `wasi`) against this runtime's
    /// imports for that version.
    pub fn instantiate_pre(
        &self,
        component: &Component,
        wasi: Wasi,
    ) -> Result<InstancePre<GuestState>> {
        Ok(self.arm(wasi)?.linker.instantiate_pre(component)?)
    }

    /// The bundled guests that can be found, with their paths.
    pub fn bundled(&self) -> Vec<(Bundled, PathBuf)> {
        self.dirs.bundled()
    }

    /// The engine its WASI 0.2 guests run on.
    pub fn engine02(&self) -> &Engine {
        &self.p2.engine
    }

    /// The engine guests of `wasi` run on.
    pub fn engine(&self, wasi: Wasi) -> Result<&Engine> {
        Ok(&self.arm(wasi)?.engine)
    }

    /// Which kind of runtime this is.
    pub fn flavor(&self) -> &'static Flavor {
        self.flavor
    }
}
