//! Export of the picture on screen as a PNG that carries its settings: the default name and
//! folder, and the writing, on a helper thread so a large PNG doesn't stall the live preview.
//! The Export field is the status panel's (`panels/status.rs`).

use crate::image_io;
use crate::settings::Settings;
use image::RgbImage;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::sync::Arc;

pub(crate) struct Export {
    /// Folder of the last export, so the next one lands next to it.
    pub(crate) dir: Option<PathBuf>,
    pub(crate) last_saved: Option<PathBuf>,
    pending: Option<Receiver<Result<Saved, String>>>,
    /// Writes the file; tests put in one that fails or panics.
    pub(crate) save: SaveFn,
}

/// How an export is written: `(path, picture, settings, replace)` → the path written.
pub(crate) type SaveFn = fn(&Path, &RgbImage, &Settings, bool) -> Result<PathBuf, String>;

impl Default for Export {
    fn default() -> Self {
        Self {
            dir: None,
            last_saved: None,
            pending: None,
            save: save_png,
        }
    }
}

/// A finished export: where it went, and where it was asked to go when that name was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Saved {
    pub(crate) path: PathBuf,
    pub(crate) instead_of: Option<PathBuf>,
}

fn save_png(
    path: &Path,
    image: &RgbImage,
    settings: &Settings,
    replace: bool,
) -> Result<PathBuf, String> {
    if replace {
        image_io::save_png(path, image, Some(settings)).map(|()| path.to_path_buf())
    } else {
        image_io::save_png_new(path, image, Some(settings))
    }
    .map_err(|e| e.to_string())
}

/// `content-stem_style-stem_iterN.png`.
pub(crate) fn default_name(content: Option<&Path>, style: Option<&Path>, iteration: u32) -> String {
    let stem = |p: Option<&Path>, fallback: &str| {
        p.and_then(Path::file_stem)
            .map_or_else(|| fallback.to_owned(), |s| s.to_string_lossy().into_owned())
    };
    format!(
        "{}_{}_iter{iteration}.png",
        stem(content, "content"),
        stem(style, "style")
    )
}

/// Pictures folder if there is one, else home, else the working directory.
pub(crate) fn default_dir() -> PathBuf {
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from);
    match home {
        Some(h) if h.join("Pictures").is_dir() => h.join("Pictures"),
        Some(h) => h,
        None => PathBuf::from("."),
    }
}

/// Adds `.png` when the artist typed a name without an extension.
pub(crate) fn with_png_extension(path: PathBuf) -> PathBuf {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        path
    } else {
        let mut s = path.into_os_string();
        s.push(".png");
        PathBuf::from(s)
    }
}

impl Export {
    pub(crate) fn is_busy(&self) -> bool {
        self.pending.is_some()
    }

    /// Writes on a helper thread. `replace` only when the artist confirmed it (the save
    /// dialog asks); otherwise an existing file keeps its name and the picture gets a fresh one.
    pub(crate) fn start(
        &mut self,
        path: PathBuf,
        image: Arc<RgbImage>,
        settings: Settings,
        replace: bool,
        ctx: &egui::Context,
    ) -> Result<(), String> {
        let path = with_png_extension(path);
        let save = self.save;
        let rx = super::task::spawn("atelier-export", "the export", ctx, move || {
            let written = save(&path, &image, &settings, replace)?;
            let instead_of = (written != path).then_some(path);
            Ok(Saved {
                path: written,
                instead_of,
            })
        })
        .map_err(|e| format!("couldn't start the export ({e}); try again"))?;
        self.pending = Some(rx);
        Ok(())
    }

    /// The finished export, if one just finished.
    pub(crate) fn poll(&mut self) -> Option<Result<Saved, String>> {
        let result = self.pending.as_ref()?.try_recv().ok()?;
        self.pending = None;
        if let Ok(s) = &result {
            self.dir = s.path.parent().map(Path::to_path_buf);
            self.last_saved = Some(s.path.clone());
        }
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_name_uses_both_stems_and_iteration() {
        assert_eq!(
            default_name(
                Some(Path::new("/x/cat.png")),
                Some(Path::new("starry_night.jpg")),
                42
            ),
            "cat_starry_night_iter42.png"
        );
        assert_eq!(default_name(None, None, 0), "content_style_iter0.png");
    }

    fn wait(e: &mut Export) -> Result<Saved, String> {
        let t0 = std::time::Instant::now();
        loop {
            if let Some(r) = e.poll() {
                return r;
            }
            assert!(
                t0.elapsed().as_secs() < 30,
                "the export never reported back"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Two exports at the same iteration used to overwrite each other.
    #[test]
    fn an_export_never_replaces_a_file_unless_confirmed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ctx = egui::Context::default();
        let (picture, settings) = (Arc::new(RgbImage::new(4, 4)), Settings::default());
        let target = tmp.path().join("cat_starry_iter150.png");
        std::fs::write(&target, b"an earlier export").expect("write");
        let mut e = Export::default();
        e.start(
            target.clone(),
            picture.clone(),
            settings.clone(),
            false,
            &ctx,
        )
        .expect("started");
        let saved = wait(&mut e).expect("saved");
        assert_eq!(saved.path, tmp.path().join("cat_starry_iter150-2.png"));
        assert_eq!(saved.instead_of.as_deref(), Some(target.as_path()));
        assert_eq!(std::fs::read(&target).expect("read"), b"an earlier export");
        e.start(target.clone(), picture, settings, true, &ctx)
            .expect("started");
        assert_eq!(
            wait(&mut e).expect("saved").path,
            target,
            "replaced when confirmed"
        );
        assert!(image_io::load_image(&target).is_ok());
    }

    /// A panic in the export thread used to leave Save disabled until a restart.
    #[test]
    fn a_crashed_export_reports_an_error_and_frees_save() {
        let ctx = egui::Context::default();
        let mut e = Export {
            save: |_, _, _, _| panic!("encoder bug"),
            ..Export::default()
        };
        e.start(
            PathBuf::from("x.png"),
            Arc::new(RgbImage::new(2, 2)),
            Settings::default(),
            false,
            &ctx,
        )
        .expect("started");
        assert!(e.is_busy());
        let err = wait(&mut e).expect_err("an error");
        assert!(
            err.contains("crashed") && err.contains("encoder bug"),
            "{err}"
        );
        assert!(!e.is_busy(), "Save is usable again");
    }

    #[test]
    fn png_extension_is_added_once() {
        assert_eq!(with_png_extension("a/b".into()), PathBuf::from("a/b.png"));
        assert_eq!(
            with_png_extension("a/b.PNG".into()),
            PathBuf::from("a/b.PNG")
        );
    }
}
