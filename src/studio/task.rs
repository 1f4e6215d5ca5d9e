//! Short helper threads (decoding, exporting) that always report back: a panic inside becomes
//! an error result, so a slot never stays "loading" and Save never stays disabled.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver};

/// Runs `work` on a thread named `name`; its result, or "`what` crashed (…)" if it panicked,
/// arrives on the returned channel and wakes the UI.
pub(crate) fn spawn<T: Send + 'static>(
    name: &str,
    what: &'static str,
    ctx: &egui::Context,
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> std::io::Result<Receiver<Result<T, String>>> {
    let (tx, rx) = mpsc::channel();
    let ctx = ctx.clone();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(work))
                .unwrap_or_else(|panic| Err(crashed(what, panic.as_ref())));
            let _ = tx.send(result);
            ctx.request_repaint();
        })?;
    Ok(rx)
}

/// The message for a panic, with its text when it has one.
pub(crate) fn crashed(what: &str, panic: &(dyn std::any::Any + Send)) -> String {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no details".into());
    format!("{what} crashed ({detail}). Nothing else was affected: try again, and report the bug if it repeats")
}
