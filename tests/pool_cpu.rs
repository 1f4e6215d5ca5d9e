//! The kernel pool's helper stays out of a job when it wakes on the caller's own CPU. Its own
//! test binary: the pool's helper threads inherit the CPU mask of the thread that starts them,
//! so this must be the first (and only) user of the pool in the process.

#[cfg(target_os = "linux")]
#[test]
fn a_helper_on_the_callers_cpu_leaves_the_work_to_the_caller() {
    use atelier::engine::cpu::{parallel_for, set_threads};
    use std::sync::Mutex;
    use std::time::Duration;

    extern "C" {
        fn sched_getcpu() -> i32;
        fn sched_setaffinity(pid: i32, size: usize, mask: *const u64) -> i32;
    }
    // Only the CPU we are on (one the machine lets us use) for this thread and the pool threads
    // it starts: the helper can only ever wake on the caller's CPU.
    // SAFETY: no arguments.
    let cpu = usize::try_from(unsafe { sched_getcpu() }).expect("sched_getcpu failed");
    let mut mask = [0u64; 16];
    assert!(cpu < 1024, "CPU {cpu} does not fit a cpu_set_t");
    mask[cpu / 64] = 1 << (cpu % 64);
    // SAFETY: pid 0 = this thread; the mask is a valid 1024-bit cpu_set_t.
    let rc = unsafe { sched_setaffinity(0, std::mem::size_of_val(&mask), mask.as_ptr()) };
    assert_eq!(rc, 0, "sched_setaffinity failed");
    set_threads(2);

    let caller = std::thread::current().id();
    let ran_on = Mutex::new(Vec::new());
    // Items that sleep: while the caller sleeps, a helper that joined would get the CPU and
    // take items (it does when the check is removed).
    parallel_for(40, |_| {
        std::thread::sleep(Duration::from_millis(1));
        ran_on.lock().unwrap().push(std::thread::current().id());
    });
    let ran_on = ran_on.into_inner().unwrap();
    assert_eq!(ran_on.len(), 40);
    let by_helper = ran_on.iter().filter(|&&t| t != caller).count();
    assert_eq!(by_helper, 0, "{by_helper} of 40 items ran on a helper");
}
