//! Native file dialogs on a helper thread, so the preview keeps painting while one is open.
//! Without a desktop portal rfd returns "cancelled" at once; the caller notices the quick
//! return and points the artist at the path field instead.

use super::slots::SlotKind;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// A "cancel" faster than this means no dialog was ever shown.
const NO_DIALOG_THRESHOLD: Duration = Duration::from_millis(700);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    OpenImage(SlotKind),
    OpenWeights,
    ExportPng,
    /// An Atelier PNG or a JSON preset whose settings come back.
    OpenSettings,
    SavePreset,
    /// A folder of photos to train a brush on.
    PhotosFolder,
}

pub(crate) struct PendingDialog {
    pub(crate) purpose: Purpose,
    rx: Receiver<Option<PathBuf>>,
    started: Instant,
}

/// How a dialog ended.
pub(crate) enum Outcome {
    Chosen(PathBuf),
    Cancelled,
    /// Returned immediately: there is no working dialog on this desktop.
    Unavailable,
}

pub(crate) fn spawn(
    purpose: Purpose,
    dir: Option<PathBuf>,
    file_name: Option<String>,
    ctx: &egui::Context,
) -> Result<PendingDialog, String> {
    let (tx, rx) = mpsc::channel();
    let ctx = ctx.clone();
    std::thread::Builder::new()
        .name("atelier-dialog".into())
        .spawn(move || {
            let mut d = rfd::FileDialog::new();
            if let Some(dir) = dir.filter(|d| d.is_dir()) {
                d = d.set_directory(dir);
            }
            let picked = match purpose {
                Purpose::OpenImage(kind) => d
                    .set_title(format!("Open {} image", kind.label().to_lowercase()))
                    .add_filter(
                        "Images",
                        &["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"],
                    )
                    .add_filter("All files", &["*"])
                    .pick_file(),
                Purpose::OpenWeights => d
                    .set_title("Open VGG weights")
                    .add_filter("Weights", &["safetensors"])
                    .add_filter("All files", &["*"])
                    .pick_file(),
                Purpose::ExportPng => d
                    .set_title("Export PNG")
                    .set_file_name(file_name.unwrap_or_default())
                    .add_filter("PNG image", &["png"])
                    .save_file(),
                Purpose::OpenSettings => d
                    .set_title("Open settings from an Atelier PNG or a preset")
                    .add_filter("Atelier PNG or preset", &["png", "json"])
                    .add_filter("All files", &["*"])
                    .pick_file(),
                Purpose::SavePreset => d
                    .set_title("Save preset")
                    .set_file_name(file_name.unwrap_or_default())
                    .add_filter("Atelier preset", &["json"])
                    .save_file(),
                Purpose::PhotosFolder => d.set_title("Photos to train the brush on").pick_folder(),
            };
            let _ = tx.send(picked);
            ctx.request_repaint();
        })
        .map_err(|e| format!("couldn't open a file dialog ({e})"))?;
    Ok(PendingDialog {
        purpose,
        rx,
        started: Instant::now(),
    })
}

impl PendingDialog {
    pub(crate) fn poll(&self) -> Option<Outcome> {
        match self.rx.try_recv() {
            Ok(Some(p)) => Some(Outcome::Chosen(p)),
            Ok(None) if self.started.elapsed() < NO_DIALOG_THRESHOLD => Some(Outcome::Unavailable),
            Ok(None) => Some(Outcome::Cancelled),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => Some(Outcome::Unavailable),
        }
    }
}
