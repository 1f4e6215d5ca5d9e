//! Settings files: an Atelier PNG brings back the settings it was made with, presets are JSON
//! files of the same `Settings`, and a few built-in presets give a starting point.

use crate::image_io;
use crate::presets::PresetError;
use crate::settings::{ColourMode, OptimizerKind, Settings};
use std::path::Path;

/// Reads settings from an Atelier PNG (its `atelier:settings` chunk) or a JSON preset with the
/// library's one reader ([`Settings::load_from_file`], as `--settings` does), in the studio's
/// words: what the file is, what to use instead, and that nothing was changed.
pub(crate) fn read_settings_file(path: &Path) -> Result<Settings, String> {
    let name = path.display();
    Settings::load_from_file(path).map_err(|e| match e {
        PresetError::Read { source, .. } => {
            format!("couldn't read {name}: {source}. Check the path and try again.")
        }
        PresetError::NoSettings { .. } => format!(
            "{name} is a PNG without Atelier settings: only pictures saved with Export PNG… \
             carry them. Nothing was changed."
        ),
        PresetError::Parse { message, .. } => format!(
            "{name} is not a valid Atelier preset ({message}). Choose a preset saved with Save \
             preset, or an Atelier PNG. Nothing was changed."
        ),
        PresetError::Image(e) => format!("{e}. Nothing was changed."),
    })
}

/// Writes `settings` as a pretty JSON preset, atomically, always with a `.json` name (the
/// field may still show the `x.png` the settings came from: that picture is never written
/// over). An existing file is replaced only when `replace` (the save dialog confirmed that
/// very name); otherwise the preset takes a fresh `name-2.json`.
pub(crate) fn write_preset(
    path: &Path,
    settings: &Settings,
    replace: bool,
) -> Result<super::export::Saved, String> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let target = if is_json {
        path.to_path_buf()
    } else {
        path.with_extension("json")
    };
    let json = serde_json::to_string_pretty(settings)
        .map_err(|e| format!("couldn't encode the settings: {e}"))?;
    let written = if replace && is_json {
        image_io::write_atomic(&target, json.as_bytes()).map(|()| target.clone())
    } else {
        image_io::write_new(&target, json.as_bytes())
    }
    .map_err(|e| e.to_string())?;
    let instead_of = (written != target).then_some(target);
    Ok(super::export::Saved {
        path: written,
        instead_of,
    })
}

/// A named adjustment of the current settings; images and the machine's choices stay.
pub(crate) struct BuiltIn {
    pub(crate) name: &'static str,
    pub(crate) tip: &'static str,
    pub(crate) apply: fn(&mut Settings),
}

pub(crate) const BUILT_IN: &[BuiltIn] = &[
    BuiltIn {
        name: "Quick sketch",
        tip: "256 px, 100 L-BFGS iterations: a first look in seconds",
        apply: |s| lbfgs_run(s, 256, 100, 0),
    },
    BuiltIn {
        name: "Classic (Gatys)",
        tip: "512 px, 500 L-BFGS iterations, the style's colours, default weights",
        apply: |s| {
            let d = Settings::default();
            lbfgs_run(s, 512, 500, 0);
            s.colour = ColourMode::Style;
            s.weights = d.weights;
            s.init = d.init;
        },
    },
    BuiltIn {
        name: "Keep photo colours",
        tip: "Transfer brushwork only; the photo keeps its colours (luminance transfer)",
        apply: |s| s.colour = ColourMode::Luminance,
    },
    BuiltIn {
        name: "Large print",
        tip: "1024 px painted coarse to fine from 256 px: big strokes, crisp detail",
        apply: |s| lbfgs_run(s, 1024, 400, 256),
    },
    BuiltIn {
        name: "Steady live preview",
        tip: "Adam with a moderate step: calmer frames to watch and steer",
        apply: |s| {
            s.optimizer = OptimizerKind::Adam;
            s.learning_rate = 10.0;
            s.iterations = 1000;
            s.stage_iterations.clear();
        },
    },
];

/// An L-BFGS run of `iterations` at `size`, coarse to fine from `multiscale_start` (0: off).
fn lbfgs_run(s: &mut Settings, size: u32, iterations: u32, multiscale_start: u32) {
    s.size = size;
    s.iterations = iterations;
    s.stage_iterations.clear();
    s.optimizer = OptimizerKind::Lbfgs;
    s.multiscale_start = multiscale_start;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_round_trip_and_bad_files_are_explained() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut s = Settings {
            colour: ColourMode::Histogram,
            multiscale_start: 128,
            ..Settings::default()
        };
        s.weights.content_weight = 42.0;
        let written = write_preset(&tmp.path().join("mine"), &s, false)
            .expect("written")
            .path;
        assert_eq!(written, tmp.path().join("mine.json"));
        assert_eq!(read_settings_file(&written), Ok(s.clone()));

        let bad = tmp.path().join("bad.json");
        std::fs::write(&bad, "{ not json").expect("write");
        let e = read_settings_file(&bad).expect_err("bad JSON");
        assert!(e.contains("not a valid Atelier preset"), "{e}");

        // A preset that names only some fields reads as the CLI reads it: the rest are the
        // defaults, except what files made before a field existed were made without.
        let partial = tmp.path().join("partial.json");
        std::fs::write(&partial, r#"{"size": 200, "colour": "luminance"}"#).expect("write");
        let p = read_settings_file(&partial).expect("a partial preset is fine");
        assert_eq!((p.size, p.colour), (200, ColourMode::Luminance));
        assert_eq!(
            p,
            Settings::load_from_file(&partial).expect("the CLI reads it too")
        );
        let d = crate::settings::LossWeights::default();
        assert_eq!(
            (
                &p.weights.content_layers,
                &p.weights.style_layers,
                p.weights.style_weight
            ),
            (&d.content_layers, &d.style_layers, d.style_weight)
        );
        // Without `scale` it was written before normalized terms existed: classic, in both.
        assert_eq!(p.weights.scale, crate::settings::LossScale::Classic);

        let plain = tmp.path().join("plain.png");
        image_io::save_png(&plain, &image::RgbImage::new(2, 2), None).expect("png");
        let e = read_settings_file(&plain).expect_err("no settings");
        assert!(e.contains("PNG without Atelier settings"), "{e}");

        let png = tmp.path().join("made.png");
        image_io::save_png(&png, &image::RgbImage::new(2, 2), Some(&s)).expect("png");
        assert_eq!(read_settings_file(&png), Ok(s));
    }

    /// "Save preset" after opening settings from `x.png` kept the name and wrote JSON over the
    /// picture; a second save replaced the first without asking.
    #[test]
    fn a_preset_never_lands_on_a_picture_or_an_earlier_preset() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let picture = tmp.path().join("x.png");
        image_io::save_png(&picture, &image::RgbImage::new(2, 2), None).expect("png");
        let before = std::fs::read(&picture).expect("read");
        let s = Settings::default();
        let first = write_preset(&picture, &s, true).expect("written");
        assert_eq!(first.path, tmp.path().join("x.json"));
        assert_eq!(
            std::fs::read(&picture).expect("read"),
            before,
            "the picture is intact"
        );
        let second = write_preset(&picture, &s, false).expect("written");
        assert_eq!(second.path, tmp.path().join("x-2.json"));
        assert_eq!(second.instead_of, Some(tmp.path().join("x.json")));
        // The dialog confirmed x.json itself: then it is replaced.
        let third = write_preset(&tmp.path().join("x.json"), &s, true).expect("written");
        assert_eq!(
            (third.path, third.instead_of),
            (tmp.path().join("x.json"), None)
        );
    }

    #[test]
    fn built_ins_are_valid() {
        for b in BUILT_IN {
            let mut s = Settings::default();
            (b.apply)(&mut s);
            assert_eq!(s.validate(), Ok(()), "{}", b.name);
        }
    }
}
