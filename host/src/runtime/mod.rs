//! The runtime: the only place a guest's `Store` is built.
//!
//! A [`Runtime`] is one engine and its linker (one [`engine::Flavor`]: today
//! WASI 0.2 on the host's network), the guests loaded into it and the
//! compiled-component cache. Calling a guest and what its call left behind
//! are in [`call`]; the data of one guest's store (its own `WasiCtx` with its
//! grants, and the host side of `socklab:lab/host`) in [`state`].
//!
//! # Layout
//! - [`engine`]: each flavor's engine settings, the epoch ticker;
//! - [`link`]: WASI 0.2 without its sockets, the sockets (one function per
//!   network), `socklab:lab/host`;
//! - [`overrides`]: socklab's socket creation, `accept` and name lookup over
//!   wasmtime-wasi's;
//! - [`guests`]: where a guest named by the user is found;
//! - [`load`]: from a file to a compiled component of a known role;
//! - [`cache`]: compiled components kept across runs;
//! - [`state`]: one guest's store data;
//! - [`call`]: a store with the guest's limits in force, the call, its
//!   outcome;
//! - [`tasks`]: spawning, sleeping and timing out on the real network's
//!   tokio or the simulated network's executor.
//!
//! The runtime knows the grants and the limits below it, never the
//! commands, exchanges or reports above it.

pub mod cache;
pub mod call;
pub mod engine;
pub mod guests;
pub mod link;
pub mod load;
pub mod overrides;
pub mod state;
pub mod tasks;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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

/// One engine and linker, shared by every guest of a command.
pub struct Runtime {
    engine: Engine,
    linker: Linker<GuestState>,
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
}

impl Runtime {
    /// A runtime for WASI 0.2 guests on the host's network.
    pub fn new(guest_dir: Option<PathBuf>) -> Result<Runtime> {
        Runtime::of(&engine::REAL, guest_dir)
    }

    /// A runtime of `flavor`.
    pub fn of(flavor: &'static Flavor, guest_dir: Option<PathBuf>) -> Result<Runtime> {
        let dirs = GuestDirs::new(guest_dir)?;
        let engine = engine::engine(flavor).context("configuring wasmtime")?;
        let mut linker = Linker::new(&engine);
        (flavor.link)(&mut linker)?;
        Ok(Runtime {
            engine,
            linker,
            flavor,
            dirs,
            compiled: Mutex::default(),
            verbose: false,
            audit: None,
            cache: None,
        })
    }

    /// Find, read, check and compile `spec` without asking for a role.
    pub fn compile(&self, spec: &str) -> Result<Compiled> {
        let (name, path) = self.dirs.resolve(spec)?;
        let file = load::read(&path)?;
        if let Some(component) = self.compiled.lock().unwrap().get(&file.sha256) {
            return Ok(Compiled {
                name,
                path,
                sha256: file.sha256,
                component: component.clone(),
            });
        }
        let compile = || load::compile(&self.engine, &file);
        let component = match &self.cache {
            Some(cache) => cache.get_or_compile(&self.engine, &file.sha256, compile)?,
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
        })
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
        } = self.compile(spec)?;
        let role = load::role_of(&self.engine, &path, &component)?;
        let pre = match self.instantiate_pre(&component) {
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

    /// Pre-instantiate `component` against this runtime's imports.
    pub fn instantiate_pre(
        &self,
        component: &Component,
    ) -> wasmtime::Result<InstancePre<GuestState>> {
        self.linker.instantiate_pre(component)
    }

    /// The bundled guests that can be found, with their paths.
    pub fn bundled(&self) -> Vec<(Bundled, PathBuf)> {
        self.dirs.bundled()
    }

    /// The engine its guests run on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Which kind of runtime this is.
    pub fn flavor(&self) -> &'static Flavor {
        self.flavor
    }
}
