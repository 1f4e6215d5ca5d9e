//! Export of the current frame as a PNG that carries its settings. Writing happens on a helper
//! thread so a large PNG doesn't stall the live preview.

use crate::image_io;
use crate::settings::Settings;
use image::RgbImage;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;

#[derive(Default)]
pub(crate) struct Export {
    /// The fallback path field; follows the default name until the artist edits it.
    pub(crate) path_text: String,
    pub(crate) edited: bool,
    /// Folder of the last export, so the next one lands next to it.
    pub(crate) dir: Option<PathBuf>,
    pub(crate) last_saved: Option<PathBuf>,
    pending: Option<Receiver<Result<PathBuf, String>>>,
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

    /// Keeps the field on the default name while the artist hasn't typed their own.
    pub(crate) fn refresh_default(&mut self, name: &str) {
        if !self.edited {
            let dir = self.dir.clone().unwrap_or_else(default_dir);
            self.path_text = dir.join(name).display().to_string();
        }
    }

    pub(crate) fn start(
        &mut self,
        path: PathBuf,
        image: Arc<RgbImage>,
        settings: Settings,
        ctx: &egui::Context,
    ) -> Result<(), String> {
        let path = with_png_extension(path);
        let (tx, rx) = mpsc::channel();
        let ctx = ctx.clone();
        std::thread::Builder::new()
            .name("atelier-export".into())
            .spawn(move || {
                let result = image_io::save_png(&path, &image, Some(&settings))
                    .map(|()| path)
                    .map_err(|e| e.to_string());
                let _ = tx.send(result);
                ctx.request_repaint();
            })
            .map_err(|e| format!("couldn't start the export ({e}); try again"))?;
        self.pending = Some(rx);
        Ok(())
    }

    /// The finished export, if one just finished.
    pub(crate) fn poll(&mut self) -> Option<Result<PathBuf, String>> {
        let result = self.pending.as_ref()?.try_recv().ok()?;
        self.pending = None;
        if let Ok(p) = &result {
            self.dir = p.parent().map(Path::to_path_buf);
            self.last_saved = Some(p.clone());
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

    #[test]
    fn png_extension_is_added_once() {
        assert_eq!(with_png_extension("a/b".into()), PathBuf::from("a/b.png"));
        assert_eq!(
            with_png_extension("a/b.PNG".into()),
            PathBuf::from("a/b.PNG")
        );
    }
}
