//! The bundled files (sample pictures, the instant networks, the icon): where they are is
//! decided here once, and the studio, the CLI and the worker are handed the answer.

use std::path::PathBuf;

/// Where to look, in order: `$ATELIER_ASSETS`, `assets/` next to the executable, the source
/// tree's `assets/`.
pub fn candidates() -> Vec<PathBuf> {
    let mut c = Vec::new();
    if let Some(p) = std::env::var_os("ATELIER_ASSETS") {
        c.push(PathBuf::from(p));
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(d) = exe.parent() {
            c.push(d.join("assets"));
        }
    }
    c.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets"));
    c
}

/// The first candidate that holds the samples or the instant networks; the source tree's when
/// none does (its absence is then reported by whoever needs a file).
pub fn locate() -> PathBuf {
    let c = candidates();
    c.iter()
        .find(|d| d.join("samples").is_dir() || d.join("instant").is_dir())
        .or(c.last())
        .cloned()
        .unwrap_or_else(|| PathBuf::from("assets"))
}

/// The bundled sample photos (not the paintings): `atelier train`'s default training set.
pub const SAMPLE_PHOTOS: [&str; 4] = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"];

/// [`SAMPLE_PHOTOS`] that exist in `assets/samples` of `assets`.
pub fn sample_photos(assets: &std::path::Path) -> Vec<PathBuf> {
    SAMPLE_PHOTOS
        .iter()
        .map(|n| assets.join("samples").join(n))
        .filter(|p| p.is_file())
        .collect()
}
