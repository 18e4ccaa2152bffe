//! The engine settings of the simulated network, chosen so that a guest
//! computes the same results on any machine and under any load, and
//! cannot spin forever.

use wasmtime::{Config, Store};

/// Fuel a guest burns between two yields to the executor: about ten
/// thousand wasm instructions. Fuel counts instructions, not time, so the
/// yield points (and thus the order of every task) repeat exactly.
pub const FUEL_YIELD_INTERVAL: u64 = 10_000;

/// The simulated network's engine configuration:
/// - the component model (the host calls guests with `call_async`; async
///   support is always on in wasmtime 48);
/// - fuel consumption, for a deterministic CPU limit and yield points
///   ([`yield_on_fuel`]); no epoch interruption, which depends on real time;
/// - NaN canonicalisation and deterministic relaxed SIMD, the settings
///   wasmtime documents for deterministic execution.
pub fn engine_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.consume_fuel(true);
    config.epoch_interruption(false);
    config.cranelift_nan_canonicalization(true);
    config.relaxed_simd_deterministic(true);
    config
}

/// Makes `store`'s guest yield to the executor every
/// [`FUEL_YIELD_INTERVAL`] units of fuel, so that a spinning guest lets the
/// other tasks run ([`crate::cpu`] charges each interval to its node's
/// simulated clock there). The store needs fuel of its own
/// (`Store::set_fuel`): running out is the guest's CPU limit.
pub fn yield_on_fuel<T>(store: &mut Store<T>) -> wasmtime::Result<()> {
    store.fuel_async_yield_interval(Some(FUEL_YIELD_INTERVAL))
}
