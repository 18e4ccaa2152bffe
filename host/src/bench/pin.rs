//! Every thread of the process on one CPU, for figures that repeat: on the
//! two-vCPU VMs socklab is measured on, a round trip between threads on two
//! vCPUs is bimodal (one wakes an idle vCPU, or not), so one run reads
//! 0.25x and the next 1.1x; on one CPU the modes vanish.
//!
//! `main` pins its one thread before the async runtime starts a worker
//! ([`pin_this_thread`], through `cli::before_runtime`), so every thread and
//! child process after it inherits the mask; the bench reads it back
//! ([`pinned_cpu`]). Pinning a running process's threads one by one from
//! `/proc/self/task` would race: the kernel's listing ends early when the
//! thread it stands on exits mid-walk.

use anyhow::{Context, Result, bail};

/// The set of CPUs the calling thread may run on.
fn allowed() -> Result<libc::cpu_set_t> {
    // SAFETY: a zeroed cpu_set_t is an empty set, and sched_getaffinity
    // writes at most its size.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    if unsafe { libc::sched_getaffinity(0, size, &mut set) } != 0 {
        return Err(std::io::Error::last_os_error()).context("reading the CPUs socklab may use");
    }
    Ok(set)
}

/// The CPUs in `set`, lowest first.
fn cpus(set: &libc::cpu_set_t) -> Vec<usize> {
    (0..libc::CPU_SETSIZE as usize)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, set) })
        .collect()
}

/// Pin the calling thread, and every thread and child process it starts
/// from now on (they inherit the mask), to the lowest CPU it may run on;
/// that CPU's number. Called before any other thread starts, it pins the
/// whole process.
pub fn pin_this_thread() -> Result<usize> {
    let Some(&cpu) = cpus(&allowed()?).first() else {
        bail!("socklab may run on no CPU");
    };
    let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    unsafe { libc::CPU_SET(cpu, &mut one) };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    if unsafe { libc::sched_setaffinity(0, size, &one) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("pinning socklab to CPU {cpu}"));
    }
    Ok(cpu)
}

/// The one CPU the calling thread is pinned to, or an error saying it may
/// run on several.
pub fn pinned_cpu() -> Result<usize> {
    match cpus(&allowed()?)[..] {
        [cpu] => Ok(cpu),
        ref several => bail!(
            "socklab is not pinned: its threads may run on CPUs {several:?} (it pins itself before its runtime starts)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CPUs thread `tid` of this process may run on, as the kernel
    /// lists them (`0`, `0-1`).
    fn listed(tid: libc::pid_t) -> String {
        let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with("Cpus_allowed_list:"))
            .unwrap();
        line["Cpus_allowed_list:".len()..].trim().to_string()
    }

    /// On a thread of its own, so the test binary's other threads stay
    /// unpinned: the pinned thread, a thread it starts, and that thread's
    /// own child all say one CPU, and `pinned_cpu` reads it back.
    #[test]
    fn a_pinned_thread_and_every_thread_it_starts_run_on_one_cpu() {
        let checked = std::thread::spawn(|| {
            let cpu = pin_this_thread().unwrap();
            assert_eq!(listed(unsafe { libc::gettid() }), cpu.to_string());
            assert_eq!(pinned_cpu().unwrap(), cpu);
            let (child, grandchild) = std::thread::spawn(|| {
                let grandchild = std::thread::spawn(|| listed(unsafe { libc::gettid() }));
                (
                    listed(unsafe { libc::gettid() }),
                    grandchild.join().unwrap(),
                )
            })
            .join()
            .unwrap();
            assert_eq!(child, cpu.to_string(), "a thread it started");
            assert_eq!(grandchild, cpu.to_string(), "a thread that one started");
        });
        checked.join().unwrap();
    }

    /// An unpinned thread is told so (on a machine with one CPU allowed
    /// there is nothing to tell).
    #[test]
    fn an_unpinned_thread_is_not_taken_for_pinned() {
        std::thread::spawn(|| {
            if cpus(&allowed().unwrap()).len() > 1 {
                let e = pinned_cpu().unwrap_err().to_string();
                assert!(e.contains("not pinned"), "{e}");
            }
        })
        .join()
        .unwrap();
    }
}
