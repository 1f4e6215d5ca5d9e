//! The memory a run will need next to what the machine has free, so a run that cannot fit is
//! refused before it starts instead of failing (or swapping the desktop to a halt) half-way.

use crate::engine::arch::Arch;
use crate::settings::Settings;
use std::time::{Duration, Instant};

/// Peak bytes a run with `settings` needs for a `width`×`height` output (the engine's model);
/// VGG19, the larger, while no network is loaded.
pub(crate) fn estimate(settings: &Settings, width: u32, height: u32, arch: Option<Arch>) -> u64 {
    crate::engine::memory::estimate_peak_bytes(
        &settings.into(),
        settings.style_count(),
        width,
        height,
        arch.unwrap_or(Arch::Vgg19),
    )
}

/// Re-reading the free memory this often is plenty for a number shown next to a slider.
const REFRESH: Duration = Duration::from_secs(2);

/// Free system memory, read at most every [`REFRESH`].
#[derive(Default)]
pub(crate) struct FreeMemory {
    read_at: Option<Instant>,
    bytes: Option<u64>,
}

impl FreeMemory {
    /// Re-reads the figure when it is older than [`REFRESH`].
    pub(crate) fn refresh(&mut self) {
        if self.read_at.is_none_or(|t| t.elapsed() > REFRESH) {
            self.bytes = crate::engine::memory::available_bytes();
            self.read_at = Some(Instant::now());
        }
    }

    pub(crate) fn bytes(&self) -> Option<u64> {
        self.bytes
    }
}

/// Binary units with one decimal where it helps: "350 MiB", "1.4 GiB".
pub(crate) fn format_bytes(bytes: u64) -> String {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    const MIB: f64 = 1024.0 * 1024.0;
    let b = bytes as f64;
    if b >= 10.0 * GIB {
        format!("{:.0} GiB", b / GIB)
    } else if b >= GIB {
        format!("{:.1} GiB", b / GIB)
    } else {
        format!("{:.0} MiB", (b / MIB).max(1.0))
    }
}

/// "≈ 1.4 GiB of 20 GiB free" (or without the free part where the system doesn't say).
pub(crate) fn describe(need: u64, free: Option<u64>) -> String {
    match free {
        Some(f) => format!("≈ {} of {} free", format_bytes(need), format_bytes(f)),
        None => format!("≈ {} needed", format_bytes(need)),
    }
}

/// Why Start is refused, when the run cannot fit: the engine's own rule, so Start is never
/// enabled for a run the worker then refuses.
pub(crate) fn blocker(need: u64, free: Option<u64>) -> Option<String> {
    let fits = crate::engine::memory::fits(need, free);
    let free = free?;
    (!fits).then(|| {
        format!(
            "This run needs about {} of memory but only {} is free: lower the output size (or \
             the coarse-to-fine start), or close other programs, then press Start.",
            format_bytes(need),
            format_bytes(free)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mem_available_from_meminfo() {
        use crate::engine::memory::{parse_mem_available, parse_size};
        let text = "MemTotal:       32000000 kB\nMemFree:  100 kB\nMemAvailable:   20971520 kB\n";
        assert_eq!(parse_mem_available(text), Some(20 * 1024 * 1024 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 5 kB\n"), None);
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("512 MiB"), Some(512 << 20));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("lots"), None);
    }

    /// The studio refused only runs over 100 % of free memory while the worker refuses over
    /// 90 %: Start was enabled for runs that then failed.
    #[test]
    fn start_and_the_worker_share_one_rule() {
        let gib: u64 = 1 << 30;
        for need in [gib / 2, 9 * gib / 10, 95 * gib / 100, gib, 2 * gib] {
            let studio_refuses = blocker(need, Some(gib)).is_some();
            let engine_refuses =
                crate::engine::memory::check_bytes(need, "x", "", Some(gib)).is_err();
            assert_eq!(studio_refuses, engine_refuses, "need {need}");
        }
        assert!(blocker(95 * gib / 100, Some(gib)).is_some());
    }

    #[test]
    fn sizes_read_naturally_and_too_large_runs_are_refused() {
        let gib = 1024 * 1024 * 1024;
        assert_eq!(format_bytes(350 * 1024 * 1024), "350 MiB");
        assert_eq!(format_bytes(gib + gib * 2 / 5), "1.4 GiB");
        assert_eq!(
            describe(gib + gib * 2 / 5, Some(20 * gib)),
            "≈ 1.4 GiB of 20 GiB free"
        );
        assert_eq!(blocker(gib, Some(2 * gib)), None);
        assert_eq!(
            blocker(3 * gib, None),
            None,
            "unknown free memory never blocks"
        );
        let why = blocker(3 * gib, Some(2 * gib)).expect("refused");
        assert!(
            why.contains("3.0 GiB") && why.contains("lower the output size"),
            "{why}"
        );
    }
}
