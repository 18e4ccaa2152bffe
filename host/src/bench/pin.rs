//! Every thread of the process on one CPU, for figures that repeat: on the
//! two-vCPU VMs socklab is measured on, a round trip between threads on two
//! vCPUs is bimodal (one wakes an idle vCPU, or not), so one run reads
//! 0.25x and the next 1.1x; on one CPU the modes vanish.

use anyhow::{Context, Result, bail};

/// Pin every thread of this process, and every thread and child process it
/// starts from now on (they inherit the mask), to the lowest CPU it may run
/// on; that CPU's number.
pub fn pin_process() -> Result<usize> {
    // SAFETY: a zeroed cpu_set_t is an empty set, and sched_getaffinity
    // writes at most its size.
    let mut allowed: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    if unsafe { libc::sched_getaffinity(0, size, &mut allowed) } != 0 {
        return Err(std::io::Error::last_os_error()).context("reading the CPUs socklab may use");
    }
    let Some(cpu) =
        (0..libc::CPU_SETSIZE as usize).find(|&c| unsafe { libc::CPU_ISSET(c, &allowed) })
    else {
        bail!("socklab may run on no CPU");
    };
    let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    unsafe { libc::CPU_SET(cpu, &mut one) };
    let tasks = std::fs::read_dir("/proc/self/task").context("listing socklab's threads")?;
    for task in tasks {
        let tid: libc::pid_t = match task?.file_name().to_str().and_then(|t| t.parse().ok()) {
            Some(tid) => tid,
            None => continue,
        };
        // A thread that ended since the listing is no error.
        if unsafe { libc::sched_setaffinity(tid, size, &one) } != 0 {
            let error = std::io::Error::last_os_error();
            if error.raw_os_error() != Some(libc::ESRCH) {
                return Err(error).with_context(|| format!("pinning thread {tid} to CPU {cpu}"));
            }
        }
    }
    Ok(cpu)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CPUs thread `tid` of this process may run on, as the kernel
    /// lists them (`0`, `0-1`).
    fn allowed(tid: libc::pid_t) -> String {
        let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with("Cpus_allowed_list:"))
            .unwrap();
        line["Cpus_allowed_list:".len()..].trim().to_string()
    }

    #[test]
    fn every_thread_already_running_is_pinned_and_new_ones_inherit() {
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || {
            tid_tx.send(unsafe { libc::gettid() }).unwrap();
            let _ = done_rx.recv_timeout(std::time::Duration::from_secs(30));
        });
        let tid = tid_rx.recv().unwrap();
        let cpu = pin_process().unwrap();
        assert_eq!(allowed(tid), cpu.to_string(), "a thread started before");
        let later = std::thread::spawn(|| allowed(unsafe { libc::gettid() }));
        assert_eq!(
            later.join().unwrap(),
            cpu.to_string(),
            "a thread started after"
        );
        done_tx.send(()).unwrap();
        other.join().unwrap();
    }
}
