//! Driving the studio headlessly with egui_kittest: one harness, waiting, clicking, typing and
//! dropping files as a user would. Shared by the studio test files.

use atelier::studio::{Level, SlotKind, StudioApp, StudioOptions, StudioView};
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Generous: CI machines are shared and the real worker computes for real.
pub const TIMEOUT: Duration = Duration::from_secs(90);
/// Small enough for a real VGG on a CPU to iterate quickly.
pub const RUN_SIZE: f64 = 32.0;

pub fn assets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets")
}

/// `ATELIER_TEST_WEIGHTS` when set (real weights), else a VGG16-shaped random fixture.
pub fn test_weights() -> PathBuf {
    std::env::var_os("ATELIER_TEST_WEIGHTS").map_or_else(super::test_vgg16_file, PathBuf::from)
}

/// The bundled samples and the test weights; nothing persisted, no hub.
pub fn options() -> StudioOptions {
    StudioOptions {
        assets_dir: assets(),
        weights: Some(test_weights()),
        persist: false,
        hub: None,
        brushes_dir: Some(brushes_dir()),
    }
}

/// A brush folder of this test process's own: tests never touch the user's brushes.
pub fn brushes_dir() -> PathBuf {
    std::env::temp_dir().join(format!("atelier-test-brushes-{}", std::process::id()))
}

/// A studio in a window of a laptop's size.
pub fn harness<'a>(opts: StudioOptions) -> Harness<'a, StudioApp> {
    harness_sized(opts, [1280.0, 800.0])
}

pub fn harness_sized<'a>(opts: StudioOptions, size: [f32; 2]) -> Harness<'a, StudioApp> {
    Harness::builder()
        .with_size(size)
        .build_eframe(move |cc| StudioApp::new(cc, opts))
}

/// Steps the UI until `cond` holds; the worker runs on its own thread meanwhile.
#[track_caller]
pub fn wait_until(
    h: &mut Harness<'_, StudioApp>,
    what: &str,
    mut cond: impl FnMut(&StudioView<'_>) -> bool,
) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        h.step();
        if cond(&h.state().view()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\nstatus: {:?}\ninstant error: {:?}\nnotices: {:#?}",
            h.state().view().status().phase,
            h.state().view().instant_error(),
            h.state().view().notices()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Keeps stepping for `d` (the UI must stay responsive throughout).
pub fn step_for(h: &mut Harness<'_, StudioApp>, d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until both images and the network are loaded, so Start is enabled.
pub fn wait_ready(h: &mut Harness<'_, StudioApp>) {
    wait_until(h, "images and network", |app| {
        app.start_blocker().is_none() && app.network().is_some()
    });
}

/// A gradient-and-checkers test picture; `seed` makes pictures distinct.
pub fn write_test_image(dir: &Path, name: &str, w: u32, h: u32, seed: u8) -> PathBuf {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 255 / w.max(1)) as u8,
            (y * 255 / h.max(1)) as u8,
            seed.wrapping_mul(37)
                .wrapping_add(((x / 4 + y / 4) % 2 * 120) as u8),
        ])
    });
    let path = dir.join(name);
    img.save(&path).expect("test image written");
    path
}

#[derive(Debug)]
struct DroppedPath(PathBuf);

impl egui::DroppedFile for DroppedPath {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// Moves the pointer to `at`, hovers the files (returning the highlighted slot), then drops
/// them, as winit reports a drag and drop.
pub fn drop_files(
    h: &mut Harness<'_, StudioApp>,
    at: egui::Pos2,
    files: &[&Path],
) -> Option<SlotKind> {
    h.hover_at(at);
    h.step();
    h.input_mut().hovered_files = files
        .iter()
        .map(|p| egui::HoveredFile {
            path: Some(p.to_path_buf()),
            mime: String::new(),
        })
        .collect();
    h.step();
    let highlighted = h.state().view().drop_target();
    h.input_mut().hovered_files.clear();
    h.input_mut().dropped_files = files
        .iter()
        .map(|p| Arc::new(DroppedPath(p.to_path_buf())) as egui::DroppedFileHandle)
        .collect();
    h.step();
    highlighted
}

pub fn center_of(h: &Harness<'_, StudioApp>, label: &str) -> egui::Pos2 {
    h.get_by_label(label).rect().center()
}

/// Sets a slider or drag value through accesskit, on a settled tree as a user would.
pub fn set_value(h: &mut Harness<'_, StudioApp>, label: &str, value: f64) {
    h.step();
    h.get_by_label(label).set_value_accesskit(value);
    h.step();
    h.step();
}

/// An accesskit click: reaches buttons scrolled out of view, as a screen reader would.
pub fn click(h: &mut Harness<'_, StudioApp>, label: &str) {
    h.step();
    h.get_by_label(label).click_accesskit();
    h.step();
    h.step();
}

/// Types `path` into the text field `field`, then clicks `button`.
pub fn type_path(h: &mut Harness<'_, StudioApp>, field: &str, button: &str, path: &Path) {
    h.step();
    h.get_by_label(field)
        .set_text_value_accesskit(&path.display().to_string());
    h.step();
    click(h, button);
}

pub fn has_notice(app: &StudioView<'_>, level: Level, needle: &str) -> bool {
    app.notices()
        .iter()
        .any(|n| n.level == level && n.message.contains(needle))
}

/// The text a node shows on screen, wherever egui put it (label or value).
pub fn screen_shows(h: &Harness<'_, StudioApp>, needle: &str) -> bool {
    h.query_all_by(|n| {
        n.value().is_some_and(|v| v.contains(needle))
            || n.label().is_some_and(|l| l.contains(needle))
    })
    .next()
    .is_some()
}

pub fn is_disabled(h: &Harness<'_, StudioApp>, label: &str) -> bool {
    h.get_by_label(label).accesskit_node().is_disabled()
}
