//! The executor: time jumps, tie order, timeouts, deadlocks, aborts.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use socklab_sim::time::{Elapsed, now_micros, sleep, timeout};
use socklab_sim::{Cancelled, Sim, Stalled, spawn};

#[test]
fn executor_time_jumps_to_the_next_timer() {
    let mut sim = Sim::new(1);
    let start = std::time::Instant::now();
    let at = sim
        .block_on(async {
            sleep(Duration::from_secs(3600)).await;
            now_micros()
        })
        .expect("finishes");
    assert_eq!(at, 3_600_000_000);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "an hour took real time"
    );
}

#[test]
fn executor_timers_due_together_fire_in_insertion_order() {
    let mut sim = Sim::new(1);
    let order = Rc::new(RefCell::new(Vec::new()));
    let seen = order.clone();
    sim.block_on(async move {
        let mut tasks = Vec::new();
        for (name, ms) in [("a", 10), ("b", 5), ("c", 10), ("d", 10)] {
            let order = seen.clone();
            tasks.push(spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                order.borrow_mut().push((name, now_micros()));
            }));
        }
        for task in tasks {
            task.await.expect("not aborted");
        }
    })
    .expect("finishes");
    let order = order.borrow().clone();
    assert_eq!(
        order,
        [("b", 5000), ("a", 10_000), ("c", 10_000), ("d", 10_000)]
    );
}

#[test]
fn executor_timeout_elapses_and_takes_its_timer_along() {
    let mut sim = Sim::new(1);
    let slow = sim.block_on(timeout(
        Duration::from_millis(1),
        sleep(Duration::from_secs(10)),
    ));
    assert_eq!(slow, Ok(Err(Elapsed)));
    assert_eq!(sim.handle().now_micros(), 1000);
    let quick = sim.block_on(timeout(Duration::from_secs(10), async { 7 }));
    assert_eq!(quick, Ok(Ok(7)));
    // Neither abandoned timer is pending: a deadlock is reported at once,
    // not after a jump to 10 s.
    let stuck = sim.block_on(std::future::pending::<()>());
    assert_eq!(
        stuck,
        Err(Stalled {
            at_micros: 1000,
            tasks: 0
        })
    );
}

#[test]
fn executor_reports_a_deadlock_instead_of_hanging() {
    let mut sim = Sim::new(1);
    let stuck = sim.block_on(async {
        let never = spawn(std::future::pending::<()>());
        sleep(Duration::from_millis(2)).await;
        never.await
    });
    assert_eq!(
        stuck,
        Err(Stalled {
            at_micros: 2000,
            tasks: 1
        })
    );
}

#[test]
fn executor_aborted_task_is_cancelled() {
    let mut sim = Sim::new(1);
    let ran = Rc::new(RefCell::new(false));
    let flag = ran.clone();
    let out = sim
        .block_on(async move {
            let task = spawn(async move {
                sleep(Duration::from_secs(1)).await;
                *flag.borrow_mut() = true;
            });
            sleep(Duration::from_millis(1)).await;
            task.abort();
            let result = task.await;
            sleep(Duration::from_secs(2)).await;
            result
        })
        .expect("finishes");
    assert_eq!(out, Err(Cancelled));
    assert!(!*ran.borrow(), "the aborted task ran on");
}

#[test]
#[should_panic(expected = "only inside Sim::block_on")]
fn executor_ambient_functions_panic_outside_block_on() {
    now_micros();
}
