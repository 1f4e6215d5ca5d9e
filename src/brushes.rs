//! The user's brush collection: brush files in the user's data directory, each with a thumbnail
//! PNG beside it (`name.safetensors`, `name.png`). What the studio's Instant palette lists.
//!
//! Where: `$ATELIER_DATA_DIR/brushes` when set (tests), else `$XDG_DATA_HOME/atelier/brushes`,
//! else `~/.local/share/atelier/brushes` (on Windows `%APPDATA%\atelier\brushes`).

use crate::engine::brush::{Brush, BrushInfo};
use crate::error::{Error, Result};
use image::RgbImage;
use std::path::{Path, PathBuf};

pub const EXTENSION: &str = "safetensors";
/// Thumbnails are this many pixels on the longest side.
pub const THUMBNAIL: u32 = 96;

/// The folder brushes are kept in (not created here).
pub fn dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = env("ATELIER_DATA_DIR") {
        return Some(d.join("brushes"));
    }
    if let Some(d) = env("XDG_DATA_HOME") {
        return Some(d.join("atelier").join("brushes"));
    }
    if cfg!(windows) {
        if let Some(d) = env("APPDATA") {
            return Some(d.join("atelier").join("brushes"));
        }
    }
    env("HOME").map(|h| h.join(".local/share/atelier/brushes"))
}

fn no_dir() -> Error {
    Error::Settings(
        "no data folder for brushes: set HOME, XDG_DATA_HOME or ATELIER_DATA_DIR".into(),
    )
}

/// Files that are not valid brushes, with why.
pub type Damaged = Vec<(PathBuf, String)>;

/// One brush in the collection.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The file name without extension: how the palette names it.
    pub name: String,
    pub path: PathBuf,
    /// `name.png`, when there is one.
    pub thumbnail: Option<PathBuf>,
    pub info: BrushInfo,
}

/// The collection in `dir` (see [`dir`]): every valid brush, by name; damaged files are listed in
/// the second vector with their error instead of hiding the rest.
pub fn list_in(dir: &Path) -> (Vec<Entry>, Damaged) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let Ok(read) = std::fs::read_dir(dir) else {
        return (good, bad);
    };
    let mut paths: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == EXTENSION))
        .collect();
    paths.sort();
    for path in paths {
        match Brush::load(&path) {
            Ok(b) => {
                let thumb = path.with_extension("png");
                good.push(Entry {
                    name: stem(&path),
                    thumbnail: thumb.is_file().then_some(thumb),
                    path,
                    info: b.info,
                });
            }
            Err(e) => bad.push((path, e.to_string())),
        }
    }
    (good, bad)
}

/// [`list_in`] for the user's folder.
pub fn list() -> Result<(Vec<Entry>, Damaged)> {
    Ok(list_in(&dir().ok_or_else(no_dir)?))
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A name safe as a file name: letters, digits, `-`, `_`, spaces; others become `_`.
pub fn safe_name(name: &str) -> Result<String> {
    let s: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim().to_string();
    if s.is_empty() || s.len() > 100 {
        return Err(Error::Settings(format!(
            "brush name {name:?}: use 1 to 100 letters, digits, spaces, - or _"
        )));
    }
    Ok(s)
}

/// Saves `brush` as `name` in `dir` with `thumbnail` beside it. Refuses to replace an existing
/// brush unless `replace`; returns the brush's path.
pub fn save_in(
    dir: &Path,
    name: &str,
    brush: &Brush,
    thumbnail: &RgbImage,
    replace: bool,
) -> Result<PathBuf> {
    let name = safe_name(name)?;
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::io(
            format!("cannot create the brush folder {}", dir.display()),
            e,
        )
    })?;
    let path = dir.join(format!("{name}.{EXTENSION}"));
    if path.exists() && !replace {
        return Err(Error::Settings(format!(
            "a brush named {name:?} already exists; choose another name or replace it"
        )));
    }
    brush.save(&path)?;
    let thumb = crate::image_io::resize_longest(thumbnail, THUMBNAIL);
    let mut png = Vec::new();
    thumb
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| Error::Settings(format!("thumbnail could not be encoded: {e}")))?;
    crate::image_io::write_atomic(&path.with_extension("png"), &png)?;
    Ok(path)
}

/// [`save_in`] the user's folder.
pub fn save(name: &str, brush: &Brush, thumbnail: &RgbImage, replace: bool) -> Result<PathBuf> {
    save_in(&dir().ok_or_else(no_dir)?, name, brush, thumbnail, replace)
}

/// Loads brush `name` from `dir`.
pub fn load_in(dir: &Path, name: &str) -> Result<Brush> {
    let path = dir.join(format!("{}.{EXTENSION}", safe_name(name)?));
    Ok(Brush::load(&path)?)
}

pub fn load(name: &str) -> Result<Brush> {
    load_in(&dir().ok_or_else(no_dir)?, name)
}

/// Deletes brush `name` and its thumbnail (and a training state left beside it).
pub fn delete_in(dir: &Path, name: &str) -> Result<()> {
    let path = dir.join(format!("{}.{EXTENSION}", safe_name(name)?));
    std::fs::remove_file(&path)
        .map_err(|e| Error::io(format!("cannot delete brush {}", path.display()), e))?;
    let _ = std::fs::remove_file(path.with_extension("png"));
    let _ = std::fs::remove_file(crate::engine::brush::state_path(&path));
    Ok(())
}

pub fn delete(name: &str) -> Result<()> {
    delete_in(&dir().ok_or_else(no_dir)?, name)
}
