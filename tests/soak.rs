//! Hours of use, compressed: the studio driven as an artist would for 1000+ iterations, with
//! sliders moved every few iterations, 50 image drops, 20 exports, and pauses, resumes and stops
//! at random points. Its memory must not creep, no progress or frame event may go missing, and
//! no error may appear. Slow (a minute or two), so it runs on demand:
//!
//! `cargo test --release --test soak -- --ignored --nocapture` (prints its figures as JSON).
//! `ATELIER_TEST_WEIGHTS=../shared/weights/vgg16-hed.safetensors` runs it on the real VGG16.

mod common;

use atelier::studio::{Level, RunPhase, SlotKind, StudioApp};
use common::studio::*;
use egui_kittest::Harness;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const ITERATIONS: u32 = 1000;
const DROPS: u32 = 50;
const EXPORTS: u32 = 20;

/// Fails at once on any error notice: none is expected in this session.
#[track_caller]
fn no_errors(h: &Harness<'_, StudioApp>) {
    let errors: Vec<_> = h
        .state()
        .view()
        .notices()
        .iter()
        .filter(|n| n.level == Level::Error)
        .collect();
    assert!(errors.is_empty(), "unexpected error notices: {errors:#?}");
}

/// Every iteration of the run that just ended reported its progress, and its last frame is the
/// one on screen.
#[track_caller]
fn nothing_lost(h: &Harness<'_, StudioApp>) {
    let status = h.state().view().status();
    let seen: Vec<u32> = status.history.iter().map(|p| p.iteration).collect();
    let expected: Vec<u32> = (1..=status.iteration).collect();
    assert_eq!(seen, expected, "progress events went missing");
    assert_eq!(
        h.state().view().preview_iteration(),
        Some(status.iteration),
        "the last frame is not on screen"
    );
}

#[test]
#[ignore = "soak: a minute or two; run with --ignored"]
fn soak_a_long_session_keeps_memory_and_loses_nothing() {
    let t0 = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let pictures: Vec<PathBuf> = (0..10u8)
        .map(|i| write_test_image(tmp.path(), &format!("p{i}.png"), 64 + u32::from(i), 48, i))
        .collect();
    let export_to = tmp.path().join("soak.png");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
    let mut h = harness(options());
    wait_ready(&mut h);
    set_value(&mut h, "Output size value", 40.0);

    let (mut total, mut drops, mut exports, mut pauses, mut stops, mut moves, mut runs) =
        (0u32, 0u32, 0u32, 0u32, 0u32, 0u32, 0u32);
    let mut rss_100: Option<f64> = None;
    while total < ITERATIONS {
        wait_until(&mut h, "ready to start", |a| a.start_blocker().is_none());
        let planned = rng.random_range(120..=300);
        set_value(&mut h, "Iterations value", f64::from(planned));
        click(&mut h, "Start");
        runs += 1;
        wait_until(&mut h, "running", |a| a.status().phase == RunPhase::Running);
        let stop_at = rng.random_bool(0.5).then(|| rng.random_range(20..planned));
        let mut next_move = 3;
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            h.step();
            no_errors(&h);
            let app = h.state().view();
            let it = app.status().iteration;
            if !app.status().is_active() {
                break;
            }
            if rss_100.is_none() && total + it >= 100 {
                rss_100 = Some(common::status_mib("VmRSS"));
            }
            if it >= next_move {
                let beta = 10f64.powf(rng.random_range(3.0..4.5));
                set_value(&mut h, "Style weight β value", beta.round());
                moves += 1;
                next_move = it + rng.random_range(2..6);
            }
            if drops < DROPS && total + it >= drops * (ITERATIONS / DROPS) {
                let kind = if drops % 2 == 0 {
                    SlotKind::Content
                } else {
                    SlotKind::Style
                };
                let at = center_of(&h, &kind.drop_zone_name());
                let file = &pictures[(drops % 10) as usize];
                drop_files(&mut h, at, &[file.as_path()]);
                drops += 1;
            }
            if exports < EXPORTS
                && total + it >= exports * (ITERATIONS / EXPORTS)
                && !is_disabled(&h, "Save")
            {
                type_path(&mut h, "Export path", "Save", &export_to);
                exports += 1;
            }
            if h.state().view().status().phase == RunPhase::Running && rng.random_bool(0.004) {
                click(&mut h, "Pause");
                // The run may end on its own just before the pause lands.
                wait_until(&mut h, "paused", |a| {
                    a.status().phase == RunPhase::Paused || !a.status().is_active()
                });
                if h.state().view().status().phase == RunPhase::Paused {
                    let held = h.state().view().status().iteration;
                    step_for(&mut h, Duration::from_millis(rng.random_range(20..200)));
                    assert!(
                        h.state().view().status().iteration <= held + 1,
                        "a paused run went on"
                    );
                    click(&mut h, "Resume");
                    pauses += 1;
                }
            }
            if stop_at.is_some_and(|s| h.state().view().status().iteration >= s) {
                click(&mut h, "Stop");
                stops += 1;
                wait_until(&mut h, "stopped", |a| !a.status().is_active());
                break;
            }
            assert!(Instant::now() < deadline, "run {runs} never ended");
            std::thread::sleep(Duration::from_millis(2));
        }
        // Let the final frame land, then check the run's record.
        wait_until(&mut h, "the last frame", |a| {
            a.preview_iteration() == Some(a.status().iteration)
        });
        nothing_lost(&h);
        total += h.state().view().status().iteration;
    }
    wait_until(&mut h, "exports written", |a| {
        let n = (1..=EXPORTS)
            .filter(|&i| atelier::image_io::numbered(&export_to, i).is_file())
            .count();
        n == EXPORTS as usize && a.last_export().is_some()
    });
    step_for(&mut h, Duration::from_millis(500));
    no_errors(&h);
    let rss_end = common::status_mib("VmRSS");
    let rss_100 = rss_100.expect("measured after 100 iterations");
    println!(
        "{}",
        serde_json::json!({
            "iterations": total,
            "runs": runs,
            "slider_moves": moves,
            "drops": drops,
            "exports": exports,
            "pauses": pauses,
            "stops": stops,
            "rss_after_100_mib": rss_100,
            "rss_end_mib": rss_end,
            "seconds": t0.elapsed().as_secs_f64(),
        })
    );
    assert_eq!((drops, exports), (DROPS, EXPORTS));
    assert!(
        rss_end <= rss_100 * 1.10,
        "memory crept: {rss_100:.0} MiB after 100 iterations, {rss_end:.0} MiB at the end"
    );
    let first = Path::new(&export_to);
    assert!(atelier::image_io::load_image(first).is_ok());
}
