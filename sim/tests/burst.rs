//! Loss in bursts (Gilbert–Elliott) on a simulated link: the long-run loss
//! and the burst lengths the model's four parameters promise, the burst
//! counter, and the same fates from the same seed.

use std::net::SocketAddr;
use std::time::Duration;

use socklab_relay::{DirStats, Fate, UdpImpairments};
use socklab_sim::{BurstLoss, Link, LinkModels, Sim};

/// Datagrams sent one way in each run: enough for the averages to settle,
/// few enough that every event is kept.
const SENT: u64 = 4000;

/// Good → bad 5%, bad → good 25%, everything lost in the bad state: an
/// average loss of 0.05 / 0.30 ≈ 16.7% in bursts of 4 on average.
const GILBERT: BurstLoss = BurstLoss {
    p: 0.05,
    r: 0.25,
    loss_bad: 1.0,
    loss_good: 0.0,
};

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("an address")
}

/// Sends [`SENT`] tagged datagrams from `a` to `b` over a link with `burst`
/// and independent `loss`, 1 ms apart; the client → server stats.
fn send_over(seed: u64, burst: Option<BurstLoss>, loss: f64) -> DirStats {
    let mut sim = Sim::new(seed);
    let h = sim.handle();
    let (a, b) = (h.add_node("a"), h.add_node("b"));
    let link = Link {
        latency: Duration::from_millis(1),
        impair: UdpImpairments {
            loss,
            ..UdpImpairments::default()
        },
        name: "bursty".into(),
        models: LinkModels {
            burst,
            ..LinkModels::default()
        },
    };
    h.set_link(&a, &b, link);
    sim.block_on(async move {
        let _server = b.udp_bind(addr("10.0.0.2:7")).expect("binds");
        let client = a.udp_bind(addr("0.0.0.0:0")).expect("binds");
        for n in 0..SENT {
            let message = format!("#{n:06} hello");
            client
                .send_to(message.as_bytes(), addr("10.0.0.2:7"))
                .expect("sent");
            socklab_sim::time::sleep(Duration::from_millis(1)).await;
        }
        socklab_sim::time::sleep(Duration::from_millis(50)).await;
    })
    .expect("finishes");
    h.link_stats("bursty").to_server
}

/// The lengths of the runs of consecutive lost datagrams, in send order.
fn runs(stats: &DirStats) -> Vec<u64> {
    assert_eq!(stats.events.len() as u64, SENT, "every event kept");
    let mut runs = Vec::new();
    let mut run = 0;
    for event in &stats.events {
        if event.fates.contains(&Fate::Lost) {
            run += 1;
        } else if run > 0 {
            runs.push(run);
            run = 0;
        }
    }
    if run > 0 {
        runs.push(run);
    }
    runs
}

fn mean(runs: &[u64]) -> f64 {
    runs.iter().sum::<u64>() as f64 / runs.len() as f64
}

#[test]
fn udp_gilbert_elliott_average_loss_and_burst_length_match_theory() {
    let stats = send_over(7, Some(GILBERT), 0.0);
    let share = stats.lost as f64 / SENT as f64;
    let expected = GILBERT.average_loss();
    assert!(
        (expected - share).abs() < 0.04,
        "lost {share}, theory {expected}"
    );
    let runs = runs(&stats);
    assert_eq!(stats.loss_bursts, runs.len() as u64, "one burst per run");
    let length = mean(&runs);
    assert!((3.0..5.0).contains(&length), "bursts of {length}, theory 4");
    assert_eq!(stats.lost + stats.delivered, SENT);
}

#[test]
fn udp_independent_loss_at_the_same_rate_has_short_runs() {
    let stats = send_over(7, None, GILBERT.average_loss());
    let length = mean(&runs(&stats));
    // Independent loss of 1/6 makes runs of 1 / (1 - 1/6) = 1.2 on average.
    assert!((1.0..1.5).contains(&length), "runs of {length}");
    assert_eq!(stats.loss_bursts, 0, "only loss_burst counts bursts");
}

#[test]
fn udp_gilbert_elliott_loss_in_the_good_state_and_partial_bad_state() {
    let model = BurstLoss {
        p: 0.1,
        r: 0.4,
        loss_bad: 0.5,
        loss_good: 0.02,
    };
    let stats = send_over(3, Some(model), 0.0);
    let share = stats.lost as f64 / SENT as f64;
    // (0.4 · 0.02 + 0.1 · 0.5) / 0.5 = 11.6%.
    assert!((model.average_loss() - 0.116).abs() < 1e-9);
    assert!((share - 0.116).abs() < 0.03, "lost {share}");
}

#[test]
fn udp_gilbert_elliott_same_seed_same_fates() {
    let fates = |seed| {
        send_over(seed, Some(GILBERT), 0.0)
            .events
            .into_iter()
            .map(|e| e.fates)
            .collect::<Vec<_>>()
    };
    let first = fates(11);
    assert_eq!(first, fates(11), "one seed, two runs");
    assert_ne!(first, fates(12), "another seed, the same fates");
}
