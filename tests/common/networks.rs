//! Cases that run on both networks: each on the real loopback and on a node
//! of a simulation of its own, and the two results compared
//! ([`on_both_networks`]).

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, mpsc};

use super::WAIT;
use super::grant_cases::Observed;
use super::sandbox::{Net, panic_text};

/// A case that can run on either network.
pub type Case = Arc<dyn Fn(Net) -> Pin<Box<dyn Future<Output = Observed> + Send>> + Send + Sync>;

/// `f` as a [`Case`].
pub fn case<F, Fut>(f: F) -> Case
where
    F: Fn(Net) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Observed> + Send + 'static,
{
    Arc::new(move |net| Box::pin(f(net)))
}

/// Run every case on the real network (all at once) and on the simulated
/// one (each on a node of a simulation of its own), print both results side
/// by side, and fail listing every case that failed on either network or
/// came to something different on the two.
pub async fn on_both_networks(table: &str, cases: Vec<(String, Case)>) {
    let tokio = tokio::runtime::Handle::current();
    let runs: Vec<_> = cases
        .iter()
        .map(|(_, case)| {
            let real = tokio::spawn(tokio::time::timeout(2 * WAIT, case(Net::Real)));
            let (case, tokio) = (case.clone(), tokio.clone());
            let sim = tokio::task::spawn_blocking(move || on_sim(case, tokio));
            (real, sim)
        })
        .collect();
    let mut listing = format!("{table}: case | real | simulated\n");
    let mut failed = Vec::new();
    for ((name, _), (real, sim)) in cases.iter().zip(runs) {
        let real = match real.await {
            Ok(Ok(seen)) => Ok(seen),
            Ok(Err(_)) => Err(format!("timed out after {:?}", 2 * WAIT)),
            Err(e) => Err(e
                .try_into_panic()
                .map_or_else(|e| e.to_string(), panic_text)),
        };
        let sim = sim.await.unwrap_or_else(|e| Err(e.to_string()));
        let shown = |r: &Result<Observed, String>| match r {
            Ok(seen) => seen.0.clone(),
            Err(why) => format!("FAILED: {why}"),
        };
        listing.push_str(&format!("- {name} | {} | {}\n", shown(&real), shown(&sim)));
        match (&real, &sim) {
            (Ok(a), Ok(b)) if a == b => {}
            (Ok(_), Ok(_)) => failed.push(format!("- {name}: the networks differ")),
            _ => failed.push(format!("- {name}: {} | {}", shown(&real), shown(&sim))),
        }
    }
    eprintln!("{listing}");
    eprintln!(
        "{table}: {} cases on both networks, {} failed",
        cases.len(),
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "{table}: {} of {} cases failed or differ:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}

/// Run `case` on a node called `probe` of a fresh simulation (seed 1), on
/// a thread of its own with `tokio` entered (wasmtime-wasi's stdio may
/// reach for it). A panic, a stall or a run past twice [`WAIT`] of real
/// time is a failure, with why.
fn on_sim(case: Case, tokio: tokio::runtime::Handle) -> Result<Observed, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _tokio = tokio.enter();
        let run = catch_unwind(AssertUnwindSafe(|| {
            let mut sim = socklab_sim::Sim::new(1);
            let node = sim.handle().add_node("probe");
            sim.block_on(case(Net::Simulated(node)))
        }));
        let _ = tx.send(run);
    });
    match rx.recv_timeout(2 * WAIT) {
        Ok(Ok(Ok(seen))) => Ok(seen),
        Ok(Ok(Err(stalled))) => Err(stalled.to_string()),
        Ok(Err(panic)) => Err(panic_text(panic)),
        Err(_) => Err(format!("no end within {:?} of real time", 2 * WAIT)),
    }
}
