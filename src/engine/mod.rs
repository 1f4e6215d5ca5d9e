//! The style transfer engine: VGG features, Gatys losses, optimizers. No UI, no threads of its
//! own, no settings files or search paths: it takes a [`TransferConfig`], decoded pictures and a
//! loaded network, and whoever calls it (the CLI, the worker) does the file work.

pub mod adam;
pub mod arch;
pub mod brush;
pub mod colour;
pub mod config;
pub mod cpu;
pub mod host;
pub mod instant;
pub mod lbfgs;
pub mod loss;
pub mod memory;
pub mod ops;
pub mod pixels;
pub mod pooling;
pub mod prepare;
pub mod pyramid;
pub mod schedule;
pub mod transfer;
pub mod vgg;
pub mod wasserstein;

pub use config::TransferConfig;
pub use loss::LossBreakdown;
pub use prepare::{prepare, Prepared};
pub use schedule::{RunImages, Schedule, ScheduleStep, Stage, Start};
pub use transfer::{StepReport, Transfer, TransferOptions};
pub use vgg::Vgg;

use std::sync::atomic::{AtomicUsize, Ordering};

static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets how many CPU threads compute uses (0 = all cores). The convolutions run on our own
/// parked pool; candle's elementwise pool spin-waits, which loses badly when the second core of
/// a small machine is not delivering, so it is kept at one thread. Call before the first computation.
pub fn set_threads(n: usize) {
    let n = if n == 0 { default_threads() } else { n };
    THREADS.store(n, Ordering::Relaxed);
    cpu::set_threads(n);
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // candle reads this when its pool starts; we are still single-threaded here.
        std::env::set_var("RAYON_NUM_THREADS", "1");
        cpu::tune_allocator();
    });
}

pub use cpu::release_memory;

/// The CPU thread count in force.
pub fn threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => candle_core::utils::get_num_threads(),
        n => n,
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
