//! Progress bars and the numbers benchmarks report.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// An iteration bar on a terminal (iteration, loss, s/it, ETA); silent when piped.
pub struct IterationBar {
    bar: ProgressBar,
}

impl IterationBar {
    pub fn new(total: u64, quiet: bool) -> Self {
        let bar = ProgressBar::new(total);
        if quiet || !std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar.set_style(
            ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} it  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Self { bar }
    }

    /// `stage` is `(current, of)` for a multi-scale run, shown as "stage 2/3".
    pub fn update(
        &mut self,
        iteration: u32,
        loss: f64,
        seconds_per_iteration: f64,
        seconds_left: f64,
        stage: Option<(u32, u32)>,
    ) {
        self.bar.set_position(u64::from(iteration));
        let stage = stage.map_or(String::new(), |(s, n)| format!("stage {s}/{n}  "));
        self.bar.set_message(format!(
            "{stage}loss {loss:.1}  {seconds_per_iteration:.3} s/it  ETA {seconds_left:.0} s"
        ));
    }

    pub fn finish(&mut self) {
        self.bar.finish_and_clear();
    }
}

pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Peak resident memory of this process in MiB (Linux: VmHWM), if known.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kib / 1024.0 * 10.0).round() / 10.0)
}

/// CPU seconds (user + system) this process has used so far.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
