//! Threading for the kernels: a parked (never spinning) pool with dynamic work claiming.
//!
//! The target machines have 2 vCPUs whose second core delivers only part of the time, so a pool
//! that busy-waits (rayon, OpenMP's default) can make 2 threads slower than 1. Work items are
//! claimed one by one from an atomic counter, so a core that stalls just takes fewer items
//! instead of holding everyone back for a fixed half of the work, and the caller never waits
//! for a helper that has not started (see [`pool`]). Whether helping pays at all depends on
//! the layer and on what else the cores are doing, so each call site learns it by timing
//! itself both ways (see [`choice`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Number of threads the kernels use; 0 = all available cores.
pub fn set_threads(n: usize) {
    THREADS.store(n, Ordering::Relaxed);
}

/// The thread count in force (≥ 1).
pub fn threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        n => n,
    }
}

/// Runs `f(state, i)` for every `i in 0..n`, items claimed dynamically by up to `threads()`
/// workers; `init` makes one state (scratch buffers) per worker.
#[track_caller]
pub fn parallel_for_with<S, I, F>(n: usize, init: I, f: F)
where
    I: Fn() -> S + Sync,
    F: Fn(&mut S, usize) + Sync,
{
    let workers = threads().min(n);
    if workers <= 1 {
        let mut s = init();
        for i in 0..n {
            f(&mut s, i);
        }
        return;
    }
    let next = AtomicUsize::new(0);
    let work = || {
        if next.load(Ordering::Relaxed) >= n {
            return; // joined too late: nothing left, skip init
        }
        let mut s = init();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                break;
            }
            f(&mut s, i);
        }
    };
    let site = choice::Site::new(std::panic::Location::caller(), n);
    pool::run(site, workers - 1, &work);
}

/// Per call site, whether running alone beats running with helpers, learnt by timing both.
///
/// With the second vCPU busy (another process, or the host taking it away), three runnable
/// threads share two cores; a helper preempted inside an item holds up the caller for a time
/// slice, which on a small layer costs more than its help. That depends on the layer's size
/// and on the machine's phase, so no fixed threshold is right: each (call site, item count)
/// keeps a running average of its wall time alone and with helpers and takes the faster. The
/// time alone hardly depends on the other core, so while sharing wins it is re-timed only every
/// [`RECHECK_SOLO`]th call (each re-check costs a call without help). While running alone,
/// sharing is re-timed after [`RECHECK_SHARED`] calls, then after twice as many each time it
/// still loses (up to [`RECHECK_SOLO`]): quick to notice the second core's return just after a
/// switch, cheap during a long busy phase, where each re-check is a slow call. A re-check's
/// timing replaces the slower way's old average, so one re-check is enough to notice a change.
mod choice {
    use std::collections::HashMap;
    use std::panic::Location;

    /// While sharing leads, solo is re-timed every this many calls; also the longest wait
    /// before sharing is re-timed while solo leads.
    pub(super) const RECHECK_SOLO: u32 = 64;
    /// The first wait before sharing is re-timed after solo took the lead.
    pub(super) const RECHECK_SHARED: u32 = 8;
    /// Weight of the newest timing in the running averages.
    const ALPHA: f64 = 0.3;
    /// A timing counts at most this multiple of the average, so one call that happened to be
    /// preempted does not flip the choice (a real change still shows within a few calls).
    const CLIP: f64 = 2.0;

    #[derive(Clone, Copy, PartialEq, Eq, Hash)]
    pub(super) struct Site {
        at: &'static Location<'static>,
        items: usize,
    }

    impl Site {
        pub(super) fn new(at: &'static Location<'static>, items: usize) -> Self {
            Site { at, items }
        }
    }

    #[derive(Default)]
    struct Times {
        calls: u32,
        solo: Option<f64>,
        shared: Option<f64>,
        /// Calls since the slower way was last re-timed (or lost the lead), and the current
        /// wait for it; which way led at the last call.
        since: u32,
        wait: u32,
        sharing_led: bool,
        /// The next record is a re-check of the slower way.
        rechecking: bool,
    }

    /// The learnt times of every site seen.
    #[derive(Default)]
    pub(super) struct Book(HashMap<Site, Times>);

    impl Book {
        /// Whether the next call of `site` should run with helpers.
        pub(super) fn share(&mut self, site: Site) -> bool {
            let t = self.0.entry(site).or_default();
            t.calls = t.calls.wrapping_add(1);
            match (t.solo, t.shared) {
                // The first call pays page faults and cold caches (not recorded), so it and
                // the next run shared, the third alone; then the faster way wins.
                (_, None) => true,
                (None, Some(_)) => false,
                (Some(solo), Some(shared)) => {
                    let sharing_wins = shared <= solo;
                    if sharing_wins != t.sharing_led {
                        // A new phase starts with quick re-checks.
                        t.sharing_led = sharing_wins;
                        t.since = 0;
                        t.wait = RECHECK_SHARED;
                    }
                    let wait = if sharing_wins {
                        RECHECK_SOLO
                    } else {
                        t.wait.max(RECHECK_SHARED)
                    };
                    t.since += 1;
                    if t.since < wait {
                        return sharing_wins;
                    }
                    t.since = 0;
                    if !sharing_wins {
                        t.wait = (2 * wait).min(RECHECK_SOLO);
                    }
                    t.rechecking = true;
                    !sharing_wins
                }
            }
        }

        /// Records how long a call of `site` took (`shared`: with helpers).
        pub(super) fn record(&mut self, site: Site, shared: bool, secs: f64) {
            let t = self.0.entry(site).or_default();
            if t.calls <= 1 {
                return; // the warm-up call
            }
            let slot = if shared { &mut t.shared } else { &mut t.solo };
            // A re-check replaces the slower way's average: that is many calls old, and the
            // machine's phase may have changed since (blended in, a return of the second core
            // would show only after several re-checks, each up to RECHECK_SOLO calls apart). A
            // lucky re-check that flips the lead costs the few calls the blend takes to flip back.
            let recheck = std::mem::take(&mut t.rechecking);
            *slot = Some(match *slot {
                Some(avg) if !recheck => avg + ALPHA * (secs.min(CLIP * avg) - avg),
                _ => secs,
            });
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// Runs `calls` calls of `site`, each taking `solo` or `shared` seconds; returns how
        /// many ran shared.
        fn run(book: &mut Book, site: Site, calls: u32, solo: f64, shared: f64) -> u32 {
            let mut n = 0;
            for _ in 0..calls {
                let s = book.share(site);
                n += s as u32;
                book.record(site, s, if s { shared } else { solo });
            }
            n
        }

        #[test]
        fn takes_the_faster_way_and_keeps_checking_the_other() {
            let mut book = Book::default();
            let site = Site::new(Location::caller(), 8);
            // Sharing faster: all but one call in RECHECK_SOLO run shared.
            run(&mut book, site, 2 * RECHECK_SOLO, 2e-3, 1e-3);
            assert_eq!(
                run(&mut book, site, 2 * RECHECK_SOLO, 2e-3, 1e-3),
                2 * RECHECK_SOLO - 2
            );
            // Solo faster (the second core got busy): the switch comes within a few calls, and
            // sharing is re-checked soon after, then ever more rarely.
            assert!(run(&mut book, site, 6, 1e-3, 3e-3) <= 4);
            assert_eq!(run(&mut book, site, RECHECK_SHARED, 1e-3, 3e-3), 1);
            let checks = run(&mut book, site, 16 * RECHECK_SOLO, 1e-3, 3e-3);
            assert!((16..=19).contains(&checks), "{checks} re-checks");
            // The core is back: the next re-check notices, and sharing wins again.
            run(&mut book, site, 2 * RECHECK_SOLO, 2e-3, 1e-3);
            assert_eq!(
                run(&mut book, site, 2 * RECHECK_SOLO, 2e-3, 1e-3),
                2 * RECHECK_SOLO - 2
            );
            // A second busy phase starts again with a quick re-check.
            run(&mut book, site, 6, 1e-3, 3e-3);
            assert_eq!(run(&mut book, site, RECHECK_SHARED, 1e-3, 3e-3), 1);
        }

        #[test]
        fn notices_the_second_core_return_at_the_first_re_check() {
            let mut book = Book::default();
            let site = Site::new(Location::caller(), 8);
            // A long busy phase: sharing 3× slower, re-checked only every RECHECK_SOLO calls.
            run(&mut book, site, 16 * RECHECK_SOLO, 1e-3, 3e-3);
            // The core is back (sharing 2× faster, alone unchanged): the first re-check, within
            // RECHECK_SOLO calls, switches; blending it into the busy average would not.
            let shared = run(&mut book, site, 2 * RECHECK_SOLO, 1e-3, 0.5e-3);
            assert!(shared >= RECHECK_SOLO, "{shared} shared");
        }

        #[test]
        fn sites_learn_separately_and_ignore_the_warm_up_call() {
            let mut book = Book::default();
            let (a, b) = (
                Site::new(Location::caller(), 4),
                Site::new(Location::caller(), 5),
            );
            // A's first call is slow (cold caches) but sharing is faster after it.
            assert!(book.share(a));
            book.record(a, true, 1.0);
            run(&mut book, a, 3, 2e-3, 1e-3);
            run(&mut book, b, 3, 1e-3, 2e-3);
            assert_eq!(
                run(&mut book, a, RECHECK_SHARED, 2e-3, 1e-3),
                RECHECK_SHARED
            );
            assert_eq!(run(&mut book, b, RECHECK_SHARED, 1e-3, 2e-3), 1);
        }

        #[test]
        fn one_preempted_call_does_not_flip_the_choice() {
            let mut book = Book::default();
            let site = Site::new(Location::caller(), 8);
            run(&mut book, site, 10, 1.5e-3, 1e-3);
            assert!(book.share(site));
            book.record(site, true, 50e-3);
            assert_eq!(run(&mut book, site, 20, 1.5e-3, 1e-3), 20);
        }
    }
}

/// A parked pool whose caller never waits for a worker that has not started.
///
/// With `std::thread::scope` the caller must join every spawned thread, and on a loaded
/// 2-vCPU machine a helper may get its first time slice only milliseconds later, long after
/// the caller has done all the items: that wait, once per layer, made 2 threads slower than 1.
/// Here helpers sleep on a condvar, join a job only while it is open, and the caller closes the
/// job when the items run out and then waits only for helpers still running an item. A helper
/// that wakes up on the caller's own CPU (Linux tells which) stays out: with the other core
/// busy, the scheduler puts it there, where it can only share the caller's time.
mod pool {
    use super::choice::{Book, Site};
    use std::sync::{Arc, Condvar, Mutex, OnceLock};
    use std::time::Instant;

    type Job = &'static (dyn Fn() + Sync);

    struct State {
        job: Option<Job>,
        generation: u64,
        /// Helpers wanted for the current job, helpers inside it.
        wanted: usize,
        active: usize,
        panicked: bool,
        spawned: usize,
        /// The CPU the caller submitted the current job from, where known.
        caller_cpu: Option<u32>,
    }

    struct Pool {
        state: Mutex<State>,
        wake: Condvar,
        done: Condvar,
        /// One job at a time (nested or concurrent callers run serially through here); holds
        /// what each call site has learnt about sharing.
        submit: Mutex<Book>,
    }

    fn pool() -> &'static Arc<Pool> {
        static POOL: OnceLock<Arc<Pool>> = OnceLock::new();
        POOL.get_or_init(|| {
            Arc::new(Pool {
                state: Mutex::new(State {
                    job: None,
                    generation: 0,
                    wanted: 0,
                    active: 0,
                    panicked: false,
                    spawned: 0,
                    caller_cpu: None,
                }),
                wake: Condvar::new(),
                done: Condvar::new(),
                submit: Mutex::new(Book::default()),
            })
        })
    }

    /// The CPU this thread is running on (Linux).
    fn current_cpu() -> Option<u32> {
        #[cfg(target_os = "linux")]
        {
            extern "C" {
                fn sched_getcpu() -> std::ffi::c_int;
            }
            // SAFETY: no arguments; returns -1 on error.
            let cpu = unsafe { sched_getcpu() };
            u32::try_from(cpu).ok()
        }
        #[cfg(not(target_os = "linux"))]
        None
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn worker(p: Arc<Pool>) {
        let mut seen = 0u64;
        let mut st = lock(&p.state);
        loop {
            while st.job.is_none() || st.generation == seen || st.active >= st.wanted {
                if st.job.is_some() && st.generation != seen && st.active >= st.wanted {
                    seen = st.generation; // enough helpers already
                }
                st = p.wake.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            seen = st.generation;
            if st.caller_cpu.is_some() && current_cpu() == st.caller_cpu {
                // Woken onto the caller's core (the other one is busy): helping would only
                // time-slice that core, and an item held while descheduled stalls the caller.
                continue;
            }
            let job = st.job.expect("job present");
            st.active += 1;
            drop(st);
            let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_ok();
            st = lock(&p.state);
            st.active -= 1;
            if !ok {
                st.panicked = true;
            }
            if st.active == 0 {
                p.done.notify_all();
            }
        }
    }

    /// Runs `job` on the calling thread and, if that has been the faster way for `site`, on up
    /// to `helpers` pool threads.
    pub(super) fn run(site: Site, helpers: usize, job: &(dyn Fn() + Sync)) {
        let p = pool();
        let mut book = match p.submit.try_lock() {
            Ok(g) => g,
            // A kernel panicked earlier (reported to its caller); the book is still sound.
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            // Called from inside a job (or by another thread's job): just run inline.
            Err(std::sync::TryLockError::WouldBlock) => return job(),
        };
        let t0 = Instant::now();
        if !book.share(site) {
            job();
            book.record(site, false, t0.elapsed().as_secs_f64());
            return;
        }
        {
            let mut st = lock(&p.state);
            while st.spawned < helpers {
                let pc = Arc::clone(p);
                std::thread::Builder::new()
                    .name("atelier-cpu".into())
                    .spawn(move || worker(pc))
                    .expect("spawn kernel thread");
                st.spawned += 1;
            }
            // SAFETY: the job is removed below, and we wait until no helper is inside it,
            // before this function returns; helpers only enter while it is installed.
            let job_static: Job = unsafe { std::mem::transmute::<&(dyn Fn() + Sync), Job>(job) };
            st.job = Some(job_static);
            st.generation += 1;
            st.wanted = helpers;
            st.panicked = false;
            st.caller_cpu = current_cpu();
        }
        p.wake.notify_all();
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_ok();
        let mut st = lock(&p.state);
        st.job = None; // close: late helpers go back to sleep
        while st.active > 0 {
            st = p.done.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        let panicked = st.panicked || !ok;
        drop(st);
        if panicked {
            panic!("a kernel worker panicked");
        }
        book.record(site, true, t0.elapsed().as_secs_f64());
    }
}

/// [`parallel_for_with`] without per-worker state.
#[track_caller]
pub fn parallel_for<F: Fn(usize) + Sync>(n: usize, f: F) {
    parallel_for_with(n, || (), |_, i| f(i));
}

/// A raw pointer that may be shared between workers writing disjoint parts of one buffer.
#[derive(Clone, Copy)]
pub(crate) struct SyncPtr(pub *mut f32);
unsafe impl Send for SyncPtr {}
unsafe impl Sync for SyncPtr {}

impl SyncPtr {
    /// The pointer (a method, so closures capture the whole `SyncPtr`, not its field).
    #[inline]
    pub fn ptr(&self) -> *mut f32 {
        self.0
    }

    /// # Safety
    /// The range must be in bounds and written by no other worker at the same time.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice(&self, start: usize, len: usize) -> &mut [f32] {
        std::slice::from_raw_parts_mut(self.0.add(start), len)
    }
}

static SCRATCH: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

/// A reusable f32 scratch buffer: recycled between calls so large buffers are not page-faulted
/// in (or zeroed) on every layer. Contents are unspecified.
pub(crate) struct Scratch(Vec<f32>);

impl Scratch {
    pub fn new(len: usize) -> Self {
        let mut v = {
            let mut pool = SCRATCH.lock().unwrap_or_else(|e| e.into_inner());
            // Prefer the smallest buffer that is large enough.
            let best = pool
                .iter()
                .enumerate()
                .filter(|(_, b)| b.capacity() >= len)
                .min_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i);
            match best {
                Some(i) => pool.swap_remove(i),
                None => pool.pop().unwrap_or_default(),
            }
        };
        if v.len() < len {
            v.resize(len, 0.0);
        }
        Scratch(v)
    }
}

impl std::ops::Deref for Scratch {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.0
    }
}
impl std::ops::DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let v = std::mem::take(&mut self.0);
        let mut pool = SCRATCH.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < 8 {
            pool.push(v);
        }
    }
}

/// Runs `f` inside a function compiled with AVX-512 (or AVX2) when the CPU has it, so simple
/// lane loops in `f` (inlined into the wrapper) get wide vectors without `-C target-cpu`.
#[inline]
pub(crate) fn with_simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: feature detected.
            return unsafe { avx512(f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: features detected.
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// Hands the memory [`tune_allocator`] keeps back to the OS (glibc `malloc_trim`, all arenas).
/// Call it when a run ends: the studio lives for hours, and memory it holds idle would make the
/// next large run look as if it couldn't fit. Costs a few milliseconds; no-op elsewhere.
pub fn release_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: plain glibc call; safe at any time from any thread.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Makes glibc malloc keep freed memory for reuse instead of returning it to the OS.
///
/// Every op allocates its output (megabytes), and glibc serves big blocks with mmap/munmap
/// (or trims the heap top), so each op pays page faults and kernel page zeroing for memory it
/// just freed: ~10–15 % of a VGG forward+backward. Process-wide and irreversible; peak RSS
/// stays at the high-water mark until [`release_memory`]. No-op on non-glibc targets.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
        }
        const M_TRIM_THRESHOLD: std::ffi::c_int = -1;
        const M_TOP_PAD: std::ffi::c_int = -2;
        const M_MMAP_MAX: std::ffi::c_int = -4;
        // SAFETY: plain glibc tunables; valid values.
        unsafe {
            mallopt(M_MMAP_MAX, 0);
            mallopt(M_TRIM_THRESHOLD, i32::MAX);
            mallopt(M_TOP_PAD, 64 << 20);
        }
    }
}
