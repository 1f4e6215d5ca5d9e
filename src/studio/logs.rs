//! Measurement logs switched on from the environment: `ATELIER_FRAME_LOG=path` gets each UI
//! frame's CPU time (for measuring responsiveness under load), `ATELIER_RUN_LOG=path` a line per
//! run event (start, progress with the ETA, finish) with seconds since the studio opened (for
//! timing Start → done and checking the ETA). Off unless asked for; write errors are ignored.

use std::fs::File;
use std::io::Write;
use std::time::Instant;

#[derive(Default)]
pub(crate) struct Logs {
    frames: Option<File>,
    run: Option<(File, Instant)>,
}

impl Logs {
    pub(crate) fn from_env() -> Self {
        let open = |var: &str| std::env::var_os(var).and_then(|p| File::create(p).ok());
        Self {
            frames: open("ATELIER_FRAME_LOG"),
            run: open("ATELIER_RUN_LOG").map(|f| (f, Instant::now())),
        }
    }

    /// One frame's CPU time, in seconds.
    pub(crate) fn frame(&mut self, cpu_seconds: Option<f32>) {
        if let (Some(f), Some(cpu)) = (&mut self.frames, cpu_seconds) {
            let _ = writeln!(f, "{cpu:.6}");
        }
    }

    /// A line about the run, stamped with the seconds since the studio opened.
    pub(crate) fn run(&mut self, what: std::fmt::Arguments<'_>) {
        if let Some((f, t0)) = &mut self.run {
            let _ = writeln!(f, "{:.3} {what}", t0.elapsed().as_secs_f64());
        }
    }
}
