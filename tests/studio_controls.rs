//! The artist controls in the studio, driven headlessly with egui_kittest: extra styles with
//! blend weights, colours, coarse to fine, the mask slot, the history strip, settings restored
//! from an Atelier PNG, and presets. Tiny random weights and small images keep it fast.

use atelier::image_io;
use atelier::settings::{ColourMode, Settings, StyleRef};
use atelier::studio::{Level, RunPhase, SlotKind, StudioApp, StudioOptions};
use atelier::worker::FinishReason;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

mod common;

use common::studio::*;

/// Tall, so the whole left panel (mask slot, settings file area) is on screen for drops.
fn tall_harness<'a>(opts: StudioOptions) -> Harness<'a, StudioApp> {
    harness_sized(opts, [1280.0, 1800.0])
}

/// Start a short run and wait until it has ended.
fn run_to_end(h: &mut Harness<'_, StudioApp>, iterations: f64) {
    set_value(h, "Output size value", RUN_SIZE);
    set_value(h, "Iterations value", iterations);
    h.get_by_label("Start").click_accesskit();
    h.step();
    wait_until(h, "run finished", |a| {
        a.status().phase == RunPhase::Finished(FinishReason::Completed)
    });
    h.step();
}

#[test]
fn a_second_style_and_its_blend_weight_reach_the_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let painting = write_test_image(tmp.path(), "second painting.png", 40, 36, 2);
    let mut h = tall_harness(options());
    wait_ready(&mut h);
    assert!(
        h.query_by_label("Style blend weight").is_none(),
        "one style: no blend slider"
    );

    click(&mut h, "Add style");
    assert_eq!(h.state().view().extra_style_slots(), 1);
    assert!(
        h.state()
            .view()
            .start_blocker()
            .is_some_and(|b| b.contains("Style 2 is empty")),
        "an empty slot blocks Start: {:?}",
        h.state().view().start_blocker()
    );
    let at = center_of(&h, &SlotKind::ExtraStyle(0).drop_zone_name());
    let lit = drop_files(&mut h, at, &[&painting]);
    assert_eq!(lit, Some(SlotKind::ExtraStyle(0)), "the new slot lights up");
    wait_until(&mut h, "second style loaded", |a| {
        a.image_path(SlotKind::ExtraStyle(0)) == Some(painting.as_path())
    });
    set_value(&mut h, "Style 2 blend weight", 0.5);
    set_value(&mut h, "Style blend weight", 2.0);
    assert_eq!(
        h.state().view().settings().extra_styles,
        [StyleRef {
            path: painting.clone(),
            weight: 0.5
        }]
    );
    assert_eq!(h.state().view().settings().style_blend_weight, 2.0);

    set_value(&mut h, "Output size value", RUN_SIZE);
    set_value(&mut h, "Iterations value", 2.0);
    h.get_by_label("Start").click_accesskit();
    h.step();
    let req = h
        .state()
        .view()
        .last_run_request()
        .expect("a run was started");
    assert_eq!(
        req.extra_styles.len(),
        1,
        "the decoded second style is sent"
    );
    assert_eq!(req.extra_styles[0].dimensions(), (40, 36));
    assert_eq!(req.settings.extra_styles[0].weight, 0.5);
    assert_eq!(req.settings.style_blend_weight, 2.0);
    assert!(req.mask.is_none());
    wait_until(&mut h, "run ended", |a| !a.status().is_active());

    click(&mut h, "Remove style 2");
    assert_eq!(h.state().view().extra_style_slots(), 0);
    assert!(h.state().view().settings().extra_styles.is_empty());
    assert!(h.query_by_label("Style blend weight").is_none());
}

#[test]
fn colour_selector_and_coarse_to_fine_change_settings() {
    let mut h = tall_harness(options());
    wait_ready(&mut h);
    assert_eq!(h.state().view().settings().colour, ColourMode::Style);
    click(&mut h, "Keep content colours (luminance)");
    assert_eq!(h.state().view().settings().colour, ColourMode::Luminance);
    click(&mut h, "Match content colours (histogram)");
    assert_eq!(h.state().view().settings().colour, ColourMode::Histogram);

    assert_eq!(
        h.state().view().settings().multiscale_start,
        256,
        "on by default, from 256 px"
    );
    click(&mut h, "Coarse to fine");
    assert_eq!(h.state().view().settings().multiscale_start, 0);
    click(&mut h, "Coarse to fine");
    assert_eq!(h.state().view().settings().multiscale_start, 256);
    set_value(&mut h, "Coarse to fine start size", 200.0);
    assert_eq!(h.state().view().settings().multiscale_start, 200);
    assert!(screen_shows(&h, "3 stages: 200 → 400 → 512 px"));
    click(&mut h, "Coarse to fine");
    assert_eq!(h.state().view().settings().multiscale_start, 0);
}

#[test]
fn mask_slot_takes_a_dropped_image_and_keeps_it_when_a_bad_file_follows() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mask = write_test_image(tmp.path(), "mask.png", 24, 20, 3);
    let broken = tmp.path().join("broken mask.png");
    std::fs::write(&broken, b"not a PNG").expect("write");
    let mut h = tall_harness(options());
    wait_ready(&mut h);

    let at = center_of(&h, &SlotKind::Mask.drop_zone_name());
    assert_eq!(drop_files(&mut h, at, &[&mask]), Some(SlotKind::Mask));
    wait_until(&mut h, "mask loaded", |a| {
        a.image_path(SlotKind::Mask) == Some(mask.as_path())
    });
    assert_eq!(
        h.state().view().settings().mask.as_deref(),
        Some(mask.as_path())
    );

    drop_files(&mut h, at, &[&broken]);
    wait_until(&mut h, "error for the bad mask", |a| {
        has_notice(a, Level::Error, "broken mask.png")
    });
    assert!(has_notice(
        &h.state().view(),
        Level::Error,
        "previous image is kept"
    ));
    assert_eq!(
        h.state().view().image_path(SlotKind::Mask),
        Some(mask.as_path())
    );
    assert_eq!(
        h.state().view().settings().mask.as_deref(),
        Some(mask.as_path())
    );

    set_value(&mut h, "Output size value", RUN_SIZE);
    set_value(&mut h, "Iterations value", 2.0);
    h.get_by_label("Start").click_accesskit();
    h.step();
    let sent = h.state().view().last_run_request().expect("started");
    let m = sent.mask.as_ref().expect("the decoded mask is sent");
    assert_eq!(m.dimensions(), (24, 20));
    wait_until(&mut h, "run ended", |a| !a.status().is_active());

    click(&mut h, "Clear mask");
    assert_eq!(h.state().view().image_path(SlotKind::Mask), None);
    assert_eq!(h.state().view().settings().mask, None);
}

#[test]
fn history_keeps_a_snapshot_of_each_run_to_compare_and_restore() {
    let mut h = tall_harness(options());
    wait_ready(&mut h);
    assert!(h.state().view().snapshots().is_empty());
    set_value(&mut h, "Content weight α value", 42.0);
    set_value(&mut h, "Seed", 11.0);
    run_to_end(&mut h, 3.0);
    let snaps = h.state().view().snapshots();
    let &(id, iteration) = snaps.last().expect("a snapshot at the end of the run");
    assert_eq!(iteration, h.state().view().status().iteration);
    assert_eq!(h.state().view().preview_iteration(), Some(iteration));

    // Taking one by hand of the same frame doesn't duplicate it.
    click(&mut h, "Take snapshot");
    assert_eq!(h.state().view().snapshots().len(), snaps.len());

    // Change things, then bring the snapshot back.
    set_value(&mut h, "Content weight α value", 7.0);
    set_value(&mut h, "Seed", 99.0);
    click(&mut h, &format!("Snapshot {id}"));
    assert!(h.query_by_label("Restore snapshot").is_some());
    click(&mut h, "Compare snapshot");
    assert_eq!(h.state().view().comparing_snapshot(), Some(id));
    click(&mut h, "Compare snapshot");
    assert_eq!(
        h.state().view().comparing_snapshot(),
        None,
        "Compare toggles"
    );
    click(&mut h, "Restore snapshot");
    let s = h.state().view().settings();
    assert_eq!(s.weights.content_weight, 42.0);
    assert_eq!(s.seed, 11);
    assert_eq!(s.size, RUN_SIZE as u32);
    assert_eq!(h.state().view().preview_iteration(), Some(iteration));
    assert!(has_notice(
        &h.state().view(),
        Level::Info,
        "restored from snapshot"
    ));
}

#[test]
fn snapshots_are_taken_during_a_run() {
    let mut h = tall_harness(options());
    wait_ready(&mut h);
    run_to_end(&mut h, 120.0);
    let snaps = h.state().view().snapshots();
    let last = h.state().view().status().iteration;
    assert!(
        snaps.len() >= 2 && snaps[0].1 >= 50 && snaps[0].1 < last,
        "an automatic snapshot from iteration 50 on, then the end: {snaps:?}"
    );
    assert_eq!(snaps.last().map(|s| s.1), Some(last));
}

fn atelier_png(dir: &Path, name: &str, settings: &Settings) -> PathBuf {
    let path = dir.join(name);
    image_io::save_png(&path, &image::RgbImage::new(8, 8), Some(settings)).expect("png");
    path
}

#[test]
fn an_atelier_png_brings_its_settings_back_and_a_plain_png_says_why_not() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let photo = write_test_image(tmp.path(), "photo.png", 30, 20, 4);
    let painting = write_test_image(tmp.path(), "painting.png", 20, 20, 5);
    let second = write_test_image(tmp.path(), "second.png", 16, 16, 6);
    let mask = write_test_image(tmp.path(), "mask.png", 30, 20, 7);
    let mut made = Settings {
        content: Some(photo.clone()),
        style: Some(painting.clone()),
        style_blend_weight: 3.0,
        extra_styles: vec![StyleRef {
            path: second.clone(),
            weight: 0.25,
        }],
        mask: Some(mask.clone()),
        colour: ColourMode::Histogram,
        multiscale_start: 64,
        size: 300,
        seed: 7,
        style_scale: 0.5,
        ..Settings::default()
    };
    made.weights.content_weight = 42.0;
    let png = atelier_png(tmp.path(), "made by atelier.png", &made);
    let plain = write_test_image(tmp.path(), "plain.png", 8, 8, 8);

    let mut h = tall_harness(options());
    wait_ready(&mut h);
    type_path(&mut h, "Settings file path", "Load settings", &png);
    wait_until(&mut h, "the PNG's images", |a| {
        a.image_path(SlotKind::Content) == Some(photo.as_path())
            && a.image_path(SlotKind::Style) == Some(painting.as_path())
            && a.image_path(SlotKind::ExtraStyle(0)) == Some(second.as_path())
            && a.image_path(SlotKind::Mask) == Some(mask.as_path())
    });
    h.step();
    let s = h.state().view().settings().clone();
    let expected = Settings {
        weights_path: s.weights_path.clone(), // the machine's own
        ..made.clone()
    };
    assert_eq!(s, expected);
    assert!(
        screen_shows(&h, "0.25"),
        "the blend slider shows the weight"
    );

    type_path(&mut h, "Settings file path", "Load settings", &plain);
    assert!(
        has_notice(
            &h.state().view(),
            Level::Error,
            "PNG without Atelier settings"
        ),
        "{:#?}",
        h.state().view().notices()
    );
    assert_eq!(h.state().view().settings(), &s, "nothing changed");

    // Dropping an Atelier PNG on the settings area works too.
    let other = atelier_png(
        tmp.path(),
        "other.png",
        &Settings {
            seed: 9,
            ..made.clone()
        },
    );
    let at = center_of(&h, "Settings drop zone");
    assert_eq!(drop_files(&mut h, at, &[&other]), None, "not an image slot");
    h.step();
    assert_eq!(h.state().view().settings().seed, 9);
    assert_eq!(
        h.state().view().image_path(SlotKind::Content),
        Some(photo.as_path()),
        "the settings drop doesn't replace the photo"
    );
}

#[test]
fn presets_save_and_load_round_trip_and_bad_json_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = tall_harness(options());
    wait_ready(&mut h);
    set_value(&mut h, "Content weight α value", 42.0);
    click(&mut h, "Keep content colours (luminance)");
    click(&mut h, "Coarse to fine");
    let saved = h.state().view().settings().clone();

    type_path(
        &mut h,
        "Settings file path",
        "Save preset",
        &tmp.path().join("my look"),
    );
    let file = tmp.path().join("my look.json");
    assert!(file.is_file(), "{:#?}", h.state().view().notices());

    set_value(&mut h, "Content weight α value", 5.0);
    click(&mut h, "Style colours");
    click(&mut h, "Coarse to fine");
    assert_ne!(h.state().view().settings(), &saved);
    type_path(&mut h, "Settings file path", "Load settings", &file);
    assert_eq!(h.state().view().settings(), &saved);

    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, "{\"size\": \"big\"").expect("write");
    type_path(&mut h, "Settings file path", "Load settings", &bad);
    assert!(has_notice(
        &h.state().view(),
        Level::Error,
        "not a valid Atelier preset"
    ));
    assert_eq!(h.state().view().settings(), &saved, "nothing changed");
}

#[derive(Default)]
struct MemStorage(HashMap<String, String>);

impl eframe::Storage for MemStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

#[test]
fn extra_styles_mask_and_look_persist_between_launches() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let second = write_test_image(tmp.path(), "second.png", 16, 16, 6);
    let mask = write_test_image(tmp.path(), "mask.png", 16, 16, 7);
    let mut storage = MemStorage::default();
    let mut opts = options();
    opts.persist = true;
    {
        let mut h = tall_harness(opts.clone());
        wait_ready(&mut h);
        click(&mut h, "Add style");
        type_path(&mut h, "Style 2 path", "Load style 2 path", &second);
        type_path(&mut h, "Mask path", "Load mask path", &mask);
        wait_until(&mut h, "second style and mask", |a| {
            a.image_path(SlotKind::ExtraStyle(0)).is_some()
                && a.image_path(SlotKind::Mask).is_some()
        });
        set_value(&mut h, "Style 2 blend weight", 0.75);
        click(&mut h, "Keep content colours (luminance)");
        eframe::App::save(h.state_mut(), &mut storage);
    }
    let mut h = Harness::builder()
        .with_size([1280.0, 1800.0])
        .build_eframe(|cc| {
            cc.storage = Some(&storage);
            StudioApp::new(cc, opts)
        });
    wait_ready(&mut h);
    let s = h.state().view().settings();
    assert_eq!(
        s.extra_styles,
        [StyleRef {
            path: second,
            weight: 0.75
        }]
    );
    assert_eq!(s.mask.as_deref(), Some(mask.as_path()));
    assert_eq!(s.colour, ColourMode::Luminance);
}
