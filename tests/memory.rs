//! The studio lives for hours: memory a finished run used must go back to the system, or the
//! next large run is refused for lack of memory the studio itself holds idle. One test per
//! binary, so no other test's allocations move the resident set it measures.

mod common;

use atelier::settings::Settings;
use atelier::worker::{Command, Event, FinishReason, RunRequest, Worker};
use image::RgbImage;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn wait_for(worker: &Worker, what: &str, mut done: impl FnMut(&Event) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        while let Some(e) = worker.try_recv() {
            if let Event::Error { message } = &e {
                panic!("worker error while waiting for {what}: {message}");
            }
            if done(&e) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn a_finished_run_gives_its_memory_back() {
    atelier::engine::set_threads(1);
    let worker = Worker::spawn(Box::new(|| {}));
    worker.send(Command::LoadNetwork(Some(common::test_vgg16_file())));
    wait_for(&worker, "weights", |e| matches!(e, Event::WeightsLoaded(_)));
    let before = common::status_mib("VmRSS");
    let picture = |seed: u8| {
        Arc::new(RgbImage::from_fn(384, 288, |x, y| {
            image::Rgb([(x % 251) as u8 ^ seed, (y % 241) as u8, (x * y % 239) as u8])
        }))
    };
    let settings = Settings {
        size: 384,
        iterations: 2,
        multiscale_start: 0,
        threads: 1,
        weights_path: Some(common::test_vgg16_file()),
        ..Settings::default()
    };
    worker.send(Command::Start(Box::new(RunRequest {
        settings,
        content: picture(1),
        style: picture(2),
        extra_styles: Vec::new(),
        mask: None,
        init_image: None,
    })));
    let mut peak = before;
    wait_for(&worker, "the run's end", |e| {
        peak = peak.max(common::status_mib("VmRSS"));
        matches!(
            e,
            Event::Finished {
                reason: FinishReason::Completed,
                ..
            }
        )
    });
    std::thread::sleep(Duration::from_millis(200));
    let after = common::status_mib("VmRSS");
    let used = peak - before;
    eprintln!("rss before {before:.0} MiB, peak {peak:.0} MiB, after the run {after:.0} MiB");
    assert!(
        used > 200.0,
        "the run should use memory: {before:.0} → peak {peak:.0} MiB"
    );
    assert!(
        after - before < 0.25 * used,
        "a finished run still holds {:.0} of the {used:.0} MiB it used (before {before:.0}, after {after:.0})",
        after - before
    );
}
