//! Weights fetch/inspect/locate against a local hub-like server and generated files.
//! No test touches process-wide environment variables: config is passed explicitly.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use atelier::engine::arch::Arch;
use atelier::weights::{
    self, convert_local, fetch, inspect, list_in, locate_in, partial_paths, search_locations_in,
    verify, FetchProgress, HubConfig, Model, SearchEnv, WeightsError,
};
use common::*;
use sha2::Digest;

fn served(seed: u64) -> Served {
    Served {
        data: hub_file(seed),
        etag: format!("\"etag-{seed}\""),
        commit: format!("c0ffee{seed}"),
    }
}

fn cfg(endpoint: &str, cache: &Path) -> HubConfig {
    HubConfig {
        endpoint: endpoint.to_string(),
        token: None,
        cache_dir: cache.to_path_buf(),
        offline: false,
        revision: "main".into(),
        timeout: Duration::from_secs(20),
        retries: 0,
        ..HubConfig::default()
    }
}

fn never() -> AtomicBool {
    AtomicBool::new(false)
}

fn get(model: Model, cfg: &HubConfig, out: Option<&Path>) -> Result<PathBuf, WeightsError> {
    fetch(model, cfg, out, &mut |_| {}, &never())
}

/// Header + features bytes of the served VGG19 file, and its full size.
fn expected_transfer(file: &[u8]) -> (u64, u64, u64) {
    let (h, f) = sizes(file);
    (h, f, file.len() as u64)
}

fn assert_nothing_at(dest: &Path) {
    assert!(!dest.exists(), "{} must not exist", dest.display());
    let dir = dest.parent().unwrap();
    if dir.exists() {
        for e in std::fs::read_dir(dir).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.contains(".tmp-"), "temp file left behind: {name}");
        }
    }
}

fn full_file_on_disk(dir: &Path, seed: u64) -> PathBuf {
    let p = dir.join("model.safetensors");
    std::fs::write(&p, &*hub_file(seed)).unwrap();
    p
}

// ------------------------------------------------------------------ 1. only features transferred

#[test]
fn fetch_transfers_only_header_and_features() {
    let server = Server::start(served(1));
    let tmp = tempfile::tempdir().unwrap();
    let cfg = cfg(&server.endpoint(), tmp.path());
    let mut last = None;
    let mut calls = 0;
    let path = fetch(
        Model::Vgg19,
        &cfg,
        None,
        &mut |p: &FetchProgress| {
            calls += 1;
            assert!(p.downloaded <= p.total);
            last = Some(*p);
        },
        &never(),
    )
    .unwrap();

    assert_eq!(path, weights::default_path(Model::Vgg19, &cfg));
    assert_eq!(
        path,
        tmp.path()
            .join("atelier/timm--vgg19.tv_in1k/features.safetensors")
    );
    let file = hub_file(1);
    assert_features_equal(&path, &file);
    let meta = metadata(&path);
    assert_eq!(meta["arch"], "vgg19");
    assert_eq!(meta["preprocess"], "torch");
    assert_eq!(meta["source"], "timm/vgg19.tv_in1k@c0ffee1");
    assert_eq!(meta.len(), 3);

    let log = server.log();
    let sent = Server::bytes_sent(&log);
    let (header, features, size) = expected_transfer(&file);
    eprintln!(
        "test 1: served file {size} B, header {header} B, features {features} B, transferred {sent} B in {} requests",
        log.len()
    );
    assert!(sent >= header + features, "everything needed arrived");
    assert!(
        sent <= header + features + 64 * 1024,
        "only header + features (+64 KiB slack) may be transferred, got {sent}"
    );
    assert!(sent < size * 3 / 4, "far below the file size");
    // Every data request was a Range request, also after the redirect.
    for e in log.iter().filter(|e| e.path.starts_with("/cdn/")) {
        assert!(e.range.is_some(), "Range survived the redirect: {e:?}");
        assert_eq!(e.status, 206);
    }
    let resolves = log.iter().filter(|e| e.path == RESOLVE).count();
    assert!(resolves <= 5, "few requests: {log:?}");

    let last = last.unwrap();
    assert_eq!(last.downloaded, last.total);
    assert_eq!(last.total, header + features, "plan = header + features");
    assert_eq!(last.eta_seconds, Some(0.0));
    assert!(calls > 10);
    let (part, sidecar) = partial_paths(&path);
    assert!(!part.exists() && !sidecar.exists());

    // verify() accepts it and the checksum is the file's.
    let v = verify(&path).unwrap();
    let sha = hex(&sha2::Sha256::digest(std::fs::read(&path).unwrap()));
    assert_eq!(v.sha256, sha);
    assert_eq!(v.info.arch, Arch::Vgg19);

    // A second fetch finds the file and makes no request.
    server.take_log();
    assert_eq!(get(Model::Vgg19, &cfg, None).unwrap(), path);
    assert!(server.log().is_empty());
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// ------------------------------------------------------------------ 2. resume

#[test]
fn dropped_connection_resumes_on_the_next_call() {
    let server = Server::start(served(1));
    let tmp = tempfile::tempdir().unwrap();
    let cfg = cfg(&server.endpoint(), tmp.path());
    let dest = tmp.path().join("out/vgg19.safetensors");
    const K: u64 = 20_000_000;
    server.behave(|b| b.drop_after = Some((K, 1)));

    let err = get(Model::Vgg19, &cfg, Some(&dest)).unwrap_err();
    assert!(matches!(err, WeightsError::Interrupted { .. }), "{err}");
    assert!(err.to_string().contains("resume"), "{err}");
    assert_nothing_at(&dest);
    let (part, sidecar) = partial_paths(&dest);
    assert!(sidecar.exists());
    let part_len = std::fs::metadata(&part).unwrap().len();
    let first = Server::bytes_sent(&server.take_log());
    assert!(part_len >= K && part_len <= first, "{part_len} {first}");

    let out = get(Model::Vgg19, &cfg, Some(&dest)).unwrap();
    let log = server.take_log();
    let second = Server::bytes_sent(&log);
    let file = hub_file(1);
    let (header, features, _) = expected_transfer(&file);
    eprintln!(
        "test 2: first call {first} B (cut at {K}), second call {second} B, plan {} B",
        header + features
    );
    assert!(
        second <= header + features - K + 64 * 1024,
        "second call only fetches the rest: {second}"
    );
    assert!(log.iter().any(|e| e.if_range.is_some()), "If-Range sent");

    // Byte-identical to a direct conversion of the full file.
    let direct = tmp.path().join("direct.safetensors");
    let full = full_file_on_disk(tmp.path(), 1);
    convert_local(
        &full,
        &direct,
        Some("timm/vgg19.tv_in1k@c0ffee1"),
        &mut |_| {},
        &never(),
    )
    .unwrap();
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&direct).unwrap()
    );
    assert!(!part.exists() && !sidecar.exists());
}

#[test]
fn cancel_keeps_the_part_file_and_the_rerun_finishes() {
    let server = Server::start(served(1));
    let tmp = tempfile::tempdir().unwrap();
    let cfg = cfg(&server.endpoint(), tmp.path());
    let dest = tmp.path().join("c.safetensors");
    let cancel = AtomicBool::new(false);
    let err = fetch(
        Model::Vgg19,
        &cfg,
        Some(&dest),
        &mut |p| {
            if p.downloaded > 30_000_000 {
                cancel.store(true, Ordering::Relaxed);
            }
        },
        &cancel,
    )
    .unwrap_err();
    let WeightsError::Cancelled { part } = &err else {
        panic!("expected Cancelled, got {err}");
    };
    assert_eq!(*part, partial_paths(&dest).0);
    let kept = std::fs::metadata(part).unwrap().len();
    assert!(kept > 30_000_000, "{kept}");
    assert_nothing_at(&dest);
    server.take_log();

    // Already cancelled: returns at once, no request.
    let e = fetch(Model::Vgg19, &cfg, Some(&dest), &mut |_| {}, &cancel).unwrap_err();
    assert!(matches!(e, WeightsError::Cancelled { .. }));
    assert!(server.log().is_empty());

    cancel.store(false, Ordering::Relaxed);
    let mut first_seen = None;
    fetch(
        Model::Vgg19,
        &cfg,
        Some(&dest),
        &mut |p| {
            first_seen.get_or_insert(p.downloaded);
        },
        &never(),
    )
    .unwrap();
    assert!(
        first_seen.unwrap() >= kept,
        "progress starts at the resumed bytes"
    );
    let (header, features, _) = expected_transfer(&hub_file(1));
    let second = Server::bytes_sent(&server.log());
    assert!(second <= header + features - kept + 64 * 1024, "{second}");
    assert_features_equal(&dest, &hub_file(1));
}

#[test]
fn dropped_connection_is_retried_within_one_call() {
    let server = Server::start(served(1));
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = cfg(&server.endpoint(), tmp.path());
    cfg.retries = 2;
    server.behave(|b| b.drop_after = Some((10_000_000, 2)));
    let out = get(Model::Vgg19, &cfg, None).unwrap();
    assert_features_equal(&out, &hub_file(1));
    let (header, features, _) = expected_transfer(&hub_file(1));
    let sent = Server::bytes_sent(&server.log());
    assert!(
        sent <= header * 3 + features + 64 * 1024,
        "no byte fetched twice: {sent}"
    );
}

// ------------------------------------------------------------------ 3. corrupted responses

fn with_nan(seed: u64) -> Served {
    // features.10.weight: in the first half of the layout, before the filler.
    let mut layout = hub_layout(Arch::Vgg19, "F32", seed);
    let t = layout
        .iter_mut()
        .find(|t| t.name == "features.10.weight")
        .unwrap();
    let mut d = (**t.data.as_ref().unwrap()).clone();
    d[400..404].copy_from_slice(&f32::NAN.to_le_bytes());
    t.data = Some(Arc::new(d));
    Served {
        data: Arc::new(build(&layout, &[])),
        etag: "\"nan\"".into(),
        commit: "nan".into(),
    }
}

#[test]
fn nan_in_downloaded_features_is_rejected_and_the_old_file_survives() {
    let server = Server::start(with_nan(1));
    let tmp = tempfile::tempdir().unwrap();
    let cfg = cfg(&server.endpoint(), tmp.path());
    let dest = tmp.path().join("n.safetensors");
    let err = get(Model::Vgg19, &cfg, Some(&dest)).unwrap_err();
    match &err {
        WeightsError::NonFinite {
            tensor,
            index,
            value,
            file,
        } => {
            assert_eq!(tensor, "features.10.weight");
            assert_eq!(*index, 100);
            assert_eq!(value, "NaN");
            assert!(file.contains("/resolve/main/model.safetensors"), "{file}");
        }
        e => panic!("expected NonFinite, got {e}"),
    }
    assert_nothing_at(&dest);
    let (part, sidecar) = partial_paths(&dest);
    assert!(
        !part.exists() && !sidecar.exists(),
        "bad bytes are not kept for a resume"
    );

    // A good file already at the destination (here a VGG16, so fetch(Vgg19) replaces it) survives.
    write_sparse(&dest, &vgg_features(Arch::Vgg16, "F32"), &[]);
    let before = std::fs::read(&dest).unwrap();
    get(Model::Vgg19, &cfg, Some(&dest)).unwrap_err();
    assert_eq!(std::fs::read(&dest).unwrap(), before);
}

#[test]
fn short_body_is_rejected() {
    let server = Server::start(served(1));
    server.behave(|b| b.short_body = true);
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("s.safetensors");
    let err = get(
        Model::Vgg19,
        &cfg(&server.endpoint(), tmp.path()),
        Some(&dest),
    )
    .unwrap_err();
    assert!(matches!(err, WeightsError::BadResponse { .. }), "{err}");
    assert!(err.to_string().contains("Content-Length"), "{err}");
    assert_nothing_at(&dest);
    assert!(!partial_paths(&dest).0.exists());
}

#[test]
fn wrong_content_range_is_rejected() {
    let server = Server::start(served(1));
    server.behave(|b| b.shift_content_range = true);
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("w.safetensors");
    let err = get(
        Model::Vgg19,
        &cfg(&server.endpoint(), tmp.path()),
        Some(&dest),
    )
    .unwrap_err();
    assert!(matches!(err, WeightsError::BadResponse { .. }), "{err}");
    assert!(err.to_string().contains("Content-Range"), "{err}");
    assert_nothing_at(&dest);
}

#[test]
fn html_page_is_rejected() {
    let server = Server::start(served(1));
    server.behave(|b| b.html = true);
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("h.safetensors");
    let err = get(
        Model::Vgg19,
        &cfg(&server.endpoint(), tmp.path()),
        Some(&dest),
    )
    .unwrap_err();
    assert!(matches!(err, WeightsError::BadResponse { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("HTML") && msg.contains("--from"), "{msg}");
    assert_nothing_at(&dest);
}

#[test]
fn server_ignoring_range_is_rejected_without_downloading_everything() {
    let server = Server::start(served(1));
    server.behave(|b| b.ignore_range = true);
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("r.safetensors");
    let err = get(
        Model::Vgg19,
        &cfg(&server.endpoint(), tmp.path()),
        Some(&dest),
    )
    .unwrap_err();
    assert!(err.to_string().contains("ignored the Range"), "{err}");
    assert_nothing_at(&dest);
}

#[test]
fn non_vgg_or_garbage_from_the_server_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    // A VGG16 served where VGG19 was asked for.
    let vgg16 = Served {
        data: Arc::new(build(&vgg_with_data(Arch::Vgg16, "F32", 3), &[])),
        etag: "\"16\"".into(),
        commit: "16".into(),
    };
    let server = Server::start(vgg16);
    let dest = tmp.path().join("a.safetensors");
    let err = get(
        Model::Vgg19,
        &cfg(&server.endpoint(), tmp.path()),
        Some(&dest),
    )
    .unwrap_err();
    assert!(matches!(err, WeightsError::NotVgg { .. }), "{err}");
    assert!(err.to_string().contains("vgg19 was requested"), "{err}");
    assert_nothing_at(&dest);
    assert!(!partial_paths(&dest).0.exists());

    // Random bytes.
    server.serve(Served {
        data: Arc::new(
            (0..100_000u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect(),
        ),
        etag: "\"g\"".into(),
        commit: "g".into(),
    });
    let err = get(
        Model::Vgg19,
        &cfg(&server.endpoint(), tmp.path()),
        Some(&dest),
    )
    .unwrap_err();
    assert!(matches!(err, WeightsError::NotSafetensors { .. }), "{err}");
    assert_nothing_at(&dest);
}

// ------------------------------------------------------------------ 4. no network

#[test]
fn unreachable_hub_names_the_manual_route() {
    let tmp = tempfile::tempdir().unwrap();
    let port = dead_port();
    let cfg = cfg(&format!("http://127.0.0.1:{port}"), tmp.path());
    let err = get(Model::Vgg19, &cfg, None).unwrap_err();
    assert!(matches!(err, WeightsError::Unreachable { .. }), "{err}");
    let msg = err.to_string();
    for needle in [
        format!("could not reach http://127.0.0.1:{port}"),
        "refused".to_string(),
        format!("http://127.0.0.1:{port}/timm/vgg19.tv_in1k"),
        "model.safetensors".to_string(),
        "atelier weights fetch --from FILE".to_string(),
        "--weights".to_string(),
        "./weights/".to_string(),
    ] {
        assert!(msg.contains(&needle), "{needle:?} missing in: {msg}");
    }
    assert_nothing_at(&weights::default_path(Model::Vgg19, &cfg));
}

#[test]
fn silent_server_times_out_with_a_clear_error() {
    let server = Server::start(served(1));
    server.behave(|b| b.hang = true);
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = cfg(&server.endpoint(), tmp.path());
    cfg.timeout = Duration::from_millis(500);
    let t = Instant::now();
    let err = get(Model::Vgg19, &cfg, None).unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(3));
    assert!(matches!(err, WeightsError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string().contains("timed out") && err.to_string().contains("--from"),
        "{err}"
    );
}

#[test]
fn offline_mode_never_touches_the_network() {
    let server = Server::start(served(1));
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = cfg(&server.endpoint(), tmp.path());
    cfg.offline = true;
    let err = get(Model::Vgg19, &cfg, None).unwrap_err();
    assert!(matches!(err, WeightsError::Offline { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("HF_HUB_OFFLINE")
            && msg.contains("--from")
            && msg.contains("timm/vgg19.tv_in1k"),
        "{msg}"
    );
    assert!(server.log().is_empty());

    // Cached: offline is fine.
    cfg.offline = false;
    let path = get(Model::Vgg19, &cfg, None).unwrap();
    cfg.offline = true;
    server.take_log();
    assert_eq!(get(Model::Vgg19, &cfg, None).unwrap(), path);
    assert!(server.log().is_empty());
}

// ------------------------------------------------------------------ 5. changed ETag

#[test]
fn changed_etag_between_attempts_restarts_instead_of_splicing() {
    let server = Server::start(served(1));
    let tmp = tempfile::tempdir().unwrap();
    let cfg = cfg(&server.endpoint(), tmp.path());
    server.behave(|b| b.drop_after = Some((20_000_000, 1)));
    get(Model::Vgg19, &cfg, None).unwrap_err();
    server.take_log();

    server.serve(served(2));
    let out = get(Model::Vgg19, &cfg, None).unwrap();
    let (header, features, _) = expected_transfer(&hub_file(2));
    let sent = Server::bytes_sent(&server.log());
    assert!(sent >= header + features, "started over: {sent}");
    assert_features_equal(&out, &hub_file(2));
    assert_eq!(metadata(&out)["source"], "timm/vgg19.tv_in1k@c0ffee2");
}

#[test]
fn etag_change_during_a_download_restarts_once() {
    let server = Server::start(served(1));
    let tmp = tempfile::tempdir().unwrap();
    let cfg = cfg(&server.endpoint(), tmp.path());
    // Probe and header come from version 1, the features request meets version 2.
    server.behave(|b| b.switch_after = Some((2, served(2))));
    let out = get(Model::Vgg19, &cfg, None).unwrap();
    assert_features_equal(&out, &hub_file(2));
    let log = server.log();
    assert!(
        log.iter()
            .any(|e| e.if_range.as_deref() == Some("\"etag-1\"") && e.status == 200),
        "If-Range with the old ETag got the whole file: {log:?}"
    );
}

// ------------------------------------------------------------------ 6. token

#[test]
fn token_goes_to_the_endpoint_but_not_to_another_host() {
    let server = Server::start(served(1));
    server.behave(|b| {
        b.redirect = Redirect::CdnLocalhost;
        b.require_token = Some("hf_secret".into());
    });
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = cfg(&server.endpoint(), tmp.path());

    let err = get(Model::Vgg19, &cfg, None).unwrap_err();
    assert!(
        matches!(err, WeightsError::Http { status: 401, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("HF_TOKEN"), "{err}");

    cfg.token = Some("hf_secret".into());
    server.take_log();
    let out = get(Model::Vgg19, &cfg, None).unwrap();
    assert_features_equal(&out, &hub_file(1));
    let log = server.log();
    let (hub, cdn): (Vec<_>, Vec<_>) = log.iter().partition(|e| e.path == RESOLVE);
    assert!(!hub.is_empty() && !cdn.is_empty());
    for e in hub {
        assert_eq!(e.auth.as_deref(), Some("Bearer hf_secret"), "{e:?}");
        assert!(e.host.starts_with("127.0.0.1"));
    }
    for e in cdn {
        assert!(e.host.starts_with("localhost"), "{e:?}");
        assert_eq!(e.auth, None, "token leaked to another host: {e:?}");
        assert!(e.range.is_some());
    }
}

#[test]
fn token_is_kept_on_a_same_host_redirect() {
    let server = Server::start(served(1));
    server.behave(|b| b.redirect = Redirect::Relative);
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = cfg(&server.endpoint(), tmp.path());
    cfg.token = Some("tok".into());
    get(Model::Vgg19, &cfg, None).unwrap();
    let log = server.log();
    assert!(log.iter().any(|e| e.path.starts_with("/cdn/")));
    assert!(
        log.iter().all(|e| e.auth.as_deref() == Some("Bearer tok")),
        "{log:?}"
    );
}

// ------------------------------------------------------------------ 6b. power loss, two fetches, trickle, pin

fn lock_of(dest: &Path) -> PathBuf {
    let lock = weights::lock_path(dest);
    assert_eq!(lock, PathBuf::from(format!("{}.lock", dest.display())));
    lock
}

/// SHA-256 of the features tensors' bytes (F32 here) in name order: what the pin covers.
fn features_digest(file: &[u8]) -> String {
    let st = safetensors::SafeTensors::deserialize(file).unwrap();
    let mut names: Vec<String> = st
        .names()
        .into_iter()
        .filter(|n| n.starts_with("features."))
        .map(str::to_string)
        .collect();
    names.sort();
    let mut h = sha2::Sha256::new();
    for n in &names {
        h.update(st.tensor(n).unwrap().data());
    }
    hex(&h.finalize())
}

#[test]
fn power_loss_zero_filled_tail_of_the_part_is_not_trusted_on_resume() {
    let server = Server::start(served(1));
    let tmp = tempfile::tempdir().unwrap();
    let cfg = cfg(&server.endpoint(), tmp.path());
    let dest = tmp.path().join("p.safetensors");
    const K: u64 = 20_000_000;
    server.behave(|b| b.drop_after = Some((K, 1)));
    get(Model::Vgg19, &cfg, Some(&dest)).unwrap_err();
    let (part, sidecar) = partial_paths(&dest);
    assert!(
        sidecar.exists(),
        "the sidecar says the partial data is resumable"
    );

    // After a power loss the length made it to disk but the last 3 MB of data did not.
    let len = std::fs::metadata(&part).unwrap().len();
    assert!(len > K);
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&part).unwrap();
        f.seek(SeekFrom::Start(len - 3_000_000)).unwrap();
        f.write_all(&vec![0u8; 3_000_000]).unwrap();
    }
    server.take_log();

    let out = get(Model::Vgg19, &cfg, Some(&dest)).unwrap();
    assert_features_equal(&out, &hub_file(1));
    let direct = tmp.path().join("direct.safetensors");
    let full = full_file_on_disk(tmp.path(), 1);
    convert_local(
        &full,
        &direct,
        Some("timm/vgg19.tv_in1k@c0ffee1"),
        &mut |_| {},
        &never(),
    )
    .unwrap();
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&direct).unwrap(),
        "bit-exact"
    );
    let (header, features, _) = expected_transfer(&hub_file(1));
    let second = Server::bytes_sent(&server.log());
    eprintln!(
        "power loss: second call {second} B of a {} B plan",
        header + features
    );
    assert!(
        second < header + features - K / 2,
        "the bytes before the damage were still used: {second}"
    );
    assert!(!part.exists() && !sidecar.exists());
}

#[test]
fn a_second_fetch_of_the_same_file_is_refused_while_the_first_runs() {
    let server = Server::start(served(1));
    // ~5 ms per 64 KB: several seconds for the whole plan.
    server.behave(|b| b.chunk_delay = Some(Duration::from_millis(5)));
    let tmp = tempfile::tempdir().unwrap();
    let cfg = cfg(&server.endpoint(), tmp.path());
    let dest = tmp.path().join("two.safetensors");
    let running = Arc::new(AtomicBool::new(false));
    let first = {
        let (cfg, dest, running) = (cfg.clone(), dest.clone(), running.clone());
        std::thread::spawn(move || {
            fetch(
                Model::Vgg19,
                &cfg,
                Some(&dest),
                &mut |p| {
                    if p.downloaded > 2_000_000 {
                        running.store(true, Ordering::SeqCst);
                    }
                },
                &never(),
            )
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !running.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the first fetch never got going");
        std::thread::sleep(Duration::from_millis(5));
    }

    let err = get(Model::Vgg19, &cfg, Some(&dest)).unwrap_err();
    assert!(matches!(err, WeightsError::Busy { .. }), "{err}");
    let msg = err.to_string();
    for needle in [
        format!("another download of {} is running", dest.display()),
        format!("pid {}", std::process::id()),
        "wait for it or cancel it".to_string(),
        lock_of(&dest).display().to_string(),
    ] {
        assert!(msg.contains(&needle), "{needle:?} missing in: {msg}");
    }

    server.behave(|b| b.chunk_delay = None);
    let out = first.join().unwrap().unwrap();
    assert_features_equal(&out, &hub_file(1));
    assert!(!lock_of(&dest).exists(), "the lock goes with the download");
    assert_eq!(get(Model::Vgg19, &cfg, Some(&dest)).unwrap(), dest);
}

#[test]
fn stale_locks_are_taken_over_live_ones_respected_and_every_ending_releases_the_lock() {
    let server = Server::start(served(1));
    let tmp = tempfile::tempdir().unwrap();
    let cfg = cfg(&server.endpoint(), tmp.path());
    let dest = tmp.path().join("l.safetensors");
    let lock = lock_of(&dest);

    // Held by a live process (pid 1 always runs on Linux): refused, nothing downloaded.
    #[cfg(target_os = "linux")]
    {
        std::fs::write(&lock, "1\n").unwrap();
        let err = get(Model::Vgg19, &cfg, Some(&dest)).unwrap_err();
        assert!(
            matches!(err, WeightsError::Busy { .. }) && err.to_string().contains("pid 1)"),
            "{err}"
        );
        assert!(server.take_log().is_empty());
        assert!(lock.exists(), "someone else's lock is left alone");
        // …unless it has not been touched for days: then its owner is long gone.
        let old = std::time::SystemTime::now() - Duration::from_secs(3 * 24 * 3600);
        std::fs::File::options()
            .write(true)
            .open(&lock)
            .unwrap()
            .set_modified(old)
            .unwrap();
        get(Model::Vgg19, &cfg, Some(&dest)).unwrap();
        assert!(!lock.exists());
        std::fs::remove_file(&dest).unwrap();
    }

    // Left by a process that no longer exists: taken over at once.
    std::fs::write(&lock, "4000000000\n").unwrap();
    let out = get(Model::Vgg19, &cfg, Some(&dest)).unwrap();
    assert_features_equal(&out, &hub_file(1));
    assert!(!lock.exists(), "released after success");

    // Released on failure and on cancel too.
    let dead = HubConfig {
        endpoint: format!("http://127.0.0.1:{}", dead_port()),
        ..cfg.clone()
    };
    let other = tmp.path().join("f.safetensors");
    get(Model::Vgg19, &dead, Some(&other)).unwrap_err();
    assert!(!lock_of(&other).exists(), "released after an error");
    let cancel = AtomicBool::new(false);
    let err = fetch(
        Model::Vgg19,
        &cfg,
        Some(&other),
        &mut |p| {
            if p.downloaded > 5_000_000 {
                cancel.store(true, Ordering::Relaxed);
            }
        },
        &cancel,
    )
    .unwrap_err();
    assert!(matches!(err, WeightsError::Cancelled { .. }), "{err}");
    assert!(!lock_of(&other).exists(), "released after cancel");
}

#[test]
fn trickling_server_fails_within_the_rate_window_instead_of_hanging() {
    let server = Server::start(served(1));
    server.behave(|b| b.trickle = Some(Duration::from_millis(200)));
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = cfg(&server.endpoint(), tmp.path());
    cfg.rate_window = Duration::from_secs(1);
    cfg.min_bytes_per_window = 1024;
    let dest = tmp.path().join("t.safetensors");
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let (cfg, dest) = (cfg.clone(), dest.clone());
        std::thread::spawn(move || tx.send(get(Model::Vgg19, &cfg, Some(&dest))));
    }
    let t = Instant::now();
    let result = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the fetch is still waiting for a trickling server after 10 s");
    let err = result.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(matches!(err, WeightsError::TooSlow { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("sent only") && msg.contains("try again later") && msg.contains("--from FILE"),
        "{msg}"
    );
    assert_nothing_at(&dest);
    assert!(partial_paths(&dest).0.exists(), "what arrived is kept");
    assert!(!lock_of(&dest).exists());
}

#[test]
fn hub_downloads_are_checked_against_the_pinned_features_digest() {
    let server = Server::start(served(1));
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = cfg(&server.endpoint(), tmp.path());
    let want = features_digest(&hub_file(1));
    let dest = tmp.path().join("pinned.safetensors");

    // Other weights than the pin: nothing installed, the partial data discarded, both named.
    let pin = "ab".repeat(32);
    cfg.expected_sha256 = Some(pin.clone());
    let err = get(Model::Vgg19, &cfg, Some(&dest)).unwrap_err();
    assert!(matches!(err, WeightsError::DigestMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&pin) && msg.contains(&want), "{msg}");
    assert!(msg.contains("--weights") && msg.contains("--from"), "{msg}");
    assert_nothing_at(&dest);
    let (part, sidecar) = partial_paths(&dest);
    assert!(!part.exists() && !sidecar.exists(), "not kept for a resume");
    assert!(!lock_of(&dest).exists());

    // The right pin (any case): installed, and verify reports that digest for it and for the
    // full hub file alike, so a pin can be measured from either.
    cfg.expected_sha256 = Some(want.to_uppercase());
    let out = get(Model::Vgg19, &cfg, Some(&dest)).unwrap();
    assert_features_equal(&out, &hub_file(1));
    assert_eq!(verify(&out).unwrap().features_sha256, want);
    let full = full_file_on_disk(tmp.path(), 1);
    assert_eq!(verify(&full).unwrap().features_sha256, want);

    // `--from` conversions are not pinned (any file the user trusts).
    let mut other = hub_layout(Arch::Vgg19, "F16", 9);
    other.retain(|t| t.name.starts_with("features."));
    let src = sparse(tmp.path(), "other.safetensors", &other, &[]);
    convert_local(
        &src,
        &tmp.path().join("o.safetensors"),
        None,
        &mut |_| {},
        &never(),
    )
    .unwrap();

    // A malformed pin is refused before any request.
    cfg.expected_sha256 = Some("not-a-digest".into());
    server.take_log();
    let err = get(Model::Vgg19, &cfg, Some(&tmp.path().join("x.safetensors"))).unwrap_err();
    assert!(matches!(err, WeightsError::BadPin { .. }), "{err}");
    assert!(err.to_string().contains("ATELIER_WEIGHTS_SHA256"), "{err}");
    assert!(server.log().is_empty());
}

// ------------------------------------------------------------------ convert_local

#[test]
fn convert_local_widens_f16_and_labels_the_source() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("model.safetensors");
    let file = build(
        &hub_layout(Arch::Vgg16, "F16", 5),
        &[("preprocess", "caffe")],
    );
    std::fs::write(&src, &file).unwrap();
    let info = inspect(&src).unwrap();
    assert_eq!((info.arch, info.dtype.as_str()), (Arch::Vgg16, "F16"));

    let out = tmp.path().join("weights/vgg16.safetensors");
    let mut last = None;
    let p = convert_local(&src, &out, None, &mut |p| last = Some(*p), &never()).unwrap();
    assert_eq!(p, out);
    assert_features_equal(&out, &file);
    let meta = metadata(&out);
    assert_eq!(meta["arch"], "vgg16");
    assert_eq!(
        meta["preprocess"], "caffe",
        "the source's preprocessing is kept"
    );
    assert_eq!(meta["source"], "file:model.safetensors");
    let last = last.unwrap();
    assert_eq!(last.downloaded, last.total);
    let info = inspect(&out).unwrap();
    assert_eq!((info.arch, info.dtype.as_str()), (Arch::Vgg16, "F32"));
    assert_eq!(info.preprocess.as_deref(), Some("caffe"));
    assert_eq!(info.file_size, std::fs::metadata(&out).unwrap().len());
    assert_eq!(
        verify(&src).unwrap().features_sha256,
        verify(&out).unwrap().features_sha256,
        "the features digest is the same for the F16 source and its F32 conversion"
    );
}

#[test]
fn convert_local_rejects_bad_input_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.safetensors");
    let garbage = tmp.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"this is not a tensor file at all").unwrap();
    let err = convert_local(&garbage, &out, None, &mut |_| {}, &never()).unwrap_err();
    assert!(matches!(err, WeightsError::NotSafetensors { .. }), "{err}");
    assert_nothing_at(&out);
    assert!(!partial_paths(&out).0.exists());

    let missing = tmp.path().join("nope.safetensors");
    let err = convert_local(&missing, &out, None, &mut |_| {}, &never()).unwrap_err();
    assert!(matches!(err, WeightsError::Io { .. }), "{err}");
    assert!(err.to_string().contains("nope.safetensors"), "{err}");
}

// ------------------------------------------------------------------ 7. inspect / verify

fn sparse(dir: &Path, name: &str, tensors: &[T], meta: &[(&str, &str)]) -> PathBuf {
    let p = dir.join(name);
    write_sparse(&p, tensors, meta);
    p
}

#[test]
fn inspect_accepts_features_and_full_files() {
    let tmp = tempfile::tempdir().unwrap();
    let layout: Vec<T> = hub_layout(Arch::Vgg19, "F32", 1)
        .into_iter()
        .map(|t| T { data: None, ..t })
        .collect();
    let full = sparse(tmp.path(), "full.safetensors", &layout, &[("format", "pt")]);
    let info = inspect(&full).unwrap();
    assert_eq!(info.arch, Arch::Vgg19);
    assert_eq!(info.preprocess, None);
    assert_eq!(info.metadata.get("format").map(String::as_str), Some("pt"));
    assert_eq!(info.file_size, std::fs::metadata(&full).unwrap().len());

    let v16 = sparse(
        tmp.path(),
        "v16.safetensors",
        &vgg_features(Arch::Vgg16, "BF16"),
        &[("arch", "vgg16"), ("preprocess", "torch")],
    );
    let info = inspect(&v16).unwrap();
    assert_eq!((info.arch, info.dtype.as_str()), (Arch::Vgg16, "BF16"));
    assert_eq!(info.preprocess.as_deref(), Some("torch"));
}

#[test]
fn inspect_reads_only_the_header_of_a_huge_file() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ts = vgg_features(Arch::Vgg19, "F32");
    ts.push(T::new("head.fc.weight", "F32", &[1 << 20, 1 << 10])); // 4 GiB hole
    let p = sparse(tmp.path(), "huge.safetensors", &ts, &[]);
    let t = Instant::now();
    let info = inspect(&p).unwrap();
    assert!(info.file_size > 4 << 30);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[test]
fn inspect_rejects_wrong_architectures() {
    let tmp = tempfile::tempdir().unwrap();
    // VGG13-style conv positions.
    let vgg13: Vec<T> = [
        (0, 64, 3),
        (2, 64, 64),
        (5, 128, 64),
        (7, 128, 128),
        (10, 256, 128),
        (12, 256, 256),
        (15, 512, 256),
    ]
    .iter()
    .flat_map(|&(i, o, n)| {
        [
            T::new(&format!("features.{i}.weight"), "F32", &[o, n, 3, 3]),
            T::new(&format!("features.{i}.bias"), "F32", &[o]),
        ]
    })
    .collect();
    let p = sparse(tmp.path(), "vgg13.safetensors", &vgg13, &[]);
    let err = inspect(&p).unwrap_err();
    assert!(matches!(err, WeightsError::NotVgg { .. }), "{err}");
    assert!(
        err.to_string().contains("vgg13.safetensors") && err.to_string().contains("match neither"),
        "{err}"
    );

    // Metadata says vgg19, tensors are vgg16.
    let p = sparse(
        tmp.path(),
        "liar.safetensors",
        &vgg_features(Arch::Vgg16, "F32"),
        &[("arch", "vgg19")],
    );
    let err = inspect(&p).unwrap_err();
    assert!(
        err.to_string().contains("metadata says arch=vgg19"),
        "{err}"
    );

    // Batch-norm VGG.
    let mut bn = vgg_features(Arch::Vgg19, "F32");
    bn.push(T::new("features.1.running_mean", "F32", &[64]));
    let p = sparse(tmp.path(), "bn.safetensors", &bn, &[]);
    let err = inspect(&p).unwrap_err();
    assert!(err.to_string().contains("batch-norm"), "{err}");

    // No features at all (e.g. a ResNet).
    let p = sparse(
        tmp.path(),
        "resnet.safetensors",
        &[T::new("conv1.weight", "F32", &[64, 3, 7, 7])],
        &[],
    );
    let err = inspect(&p).unwrap_err();
    assert!(
        matches!(err, WeightsError::NotVgg { .. }) && err.to_string().contains("conv1.weight"),
        "{err}"
    );

    // Integer weights.
    let mut ints = vgg_features(Arch::Vgg16, "F32");
    ints[4].dtype = "I64";
    let p = sparse(tmp.path(), "int.safetensors", &ints, &[]);
    let err = inspect(&p).unwrap_err();
    assert!(
        matches!(&err, WeightsError::WrongDtype { tensor, .. } if tensor == "features.5.weight"),
        "{err}"
    );

    // Unknown preprocess value.
    let p = sparse(
        tmp.path(),
        "pre.safetensors",
        &vgg_features(Arch::Vgg16, "F32"),
        &[("preprocess", "bgr")],
    );
    let err = inspect(&p).unwrap_err();
    assert!(matches!(err, WeightsError::BadMetadata { .. }), "{err}");
}

#[test]
fn inspect_rejects_missing_tensor_and_wrong_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ts = vgg_features(Arch::Vgg19, "F32");
    ts.retain(|t| t.name != "features.34.bias");
    let p = sparse(tmp.path(), "missing.safetensors", &ts, &[]);
    match inspect(&p).unwrap_err() {
        WeightsError::MissingTensor { tensor, arch, file } => {
            assert_eq!(tensor, "features.34.bias");
            assert_eq!(arch, Arch::Vgg19);
            assert!(file.ends_with("missing.safetensors"));
        }
        e => panic!("{e}"),
    }
    // A whole layer missing is still "incomplete VGG19".
    let mut ts = vgg_features(Arch::Vgg19, "F32");
    ts.retain(|t| !t.name.starts_with("features.34."));
    let p = sparse(tmp.path(), "missing2.safetensors", &ts, &[]);
    assert!(
        matches!(inspect(&p).unwrap_err(), WeightsError::MissingTensor { tensor, .. } if tensor == "features.34.weight")
    );

    let mut ts = vgg_features(Arch::Vgg19, "F32");
    ts[0].shape = vec![64, 3, 5, 5];
    let p = sparse(tmp.path(), "shape.safetensors", &ts, &[]);
    let err = inspect(&p).unwrap_err();
    match &err {
        WeightsError::WrongShape {
            tensor,
            expected,
            found,
            ..
        } => {
            assert_eq!(tensor, "features.0.weight");
            assert_eq!(expected, &vec![64, 3, 3, 3]);
            assert_eq!(found, &vec![64, 3, 5, 5]);
        }
        e => panic!("{e}"),
    }
    assert!(err.to_string().contains("shape.safetensors"));
}

#[test]
fn inspect_rejects_truncated_garbage_and_oversized_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let p = sparse(
        tmp.path(),
        "t.safetensors",
        &vgg_features(Arch::Vgg19, "F32"),
        &[],
    );
    let len = std::fs::metadata(&p).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(len - 1000)
        .unwrap();
    match inspect(&p).unwrap_err() {
        WeightsError::Truncated { tensor, file, .. } => {
            assert!(tensor.unwrap().starts_with("features."));
            assert!(file.ends_with("t.safetensors"));
        }
        e => panic!("{e}"),
    }
    // Cut inside the header.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(100)
        .unwrap();
    assert!(matches!(
        inspect(&p).unwrap_err(),
        WeightsError::Truncated { tensor: None, .. }
    ));

    for (name, bytes) in [
        (
            "html.safetensors",
            b"<!DOCTYPE html><html>oops</html>".to_vec(),
        ),
        ("empty.safetensors", Vec::new()),
        ("json.safetensors", {
            let mut v = 5u64.to_le_bytes().to_vec();
            v.extend(b"nope!");
            v
        }),
        ("huge.safetensors", {
            let mut v = (200_000_000u64).to_le_bytes().to_vec();
            v.extend([b'{'; 64]);
            v
        }),
    ] {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let err = inspect(&p).unwrap_err();
        assert!(
            matches!(err, WeightsError::NotSafetensors { .. }),
            "{name}: {err}"
        );
        assert!(err.to_string().contains(name), "{err}");
    }

    // Trailing junk after the last tensor: the safetensors crate would refuse to load it.
    let p = sparse(
        tmp.path(),
        "tail.safetensors",
        &vgg_features(Arch::Vgg16, "F32"),
        &[],
    );
    let len = std::fs::metadata(&p).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(len + 8)
        .unwrap();
    assert!(inspect(&p).unwrap_err().to_string().contains("stray bytes"));
}

#[test]
fn verify_finds_nan_and_inf_and_reports_sha256() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ts = vgg_features(Arch::Vgg16, "F32");
    let mut data = vec![0u8; ts[7].len()];
    data[40..44].copy_from_slice(&f32::INFINITY.to_le_bytes());
    ts[7].data = Some(Arc::new(data)); // features.7.bias
    let name = ts[7].name.clone();
    let p = sparse(tmp.path(), "inf.safetensors", &ts, &[]);
    assert!(inspect(&p).is_ok(), "inspect is header-only");
    match verify(&p).unwrap_err() {
        WeightsError::NonFinite {
            tensor,
            index,
            value,
            ..
        } => {
            assert_eq!(tensor, name);
            assert_eq!(index, 10);
            assert_eq!(value, "inf");
        }
        e => panic!("{e}"),
    }
    // NaN in a non-features tensor is none of our business.
    let mut ts = vgg_features(Arch::Vgg16, "F32");
    let mut head = T::new("classifier.6.weight", "F32", &[10, 10]);
    head.data = Some(Arc::new(vec![0xFF; 400]));
    ts.push(head);
    let p = sparse(tmp.path(), "ok.safetensors", &ts, &[]);
    let v = verify(&p).unwrap();
    assert_eq!(
        v.sha256,
        hex(&sha2::Sha256::digest(std::fs::read(&p).unwrap()))
    );
    assert_eq!(v.info.arch, Arch::Vgg16);
}

// ------------------------------------------------------------------ 7b. locate

struct Dirs {
    _tmp: tempfile::TempDir,
    cwd: PathBuf,
    exe: PathBuf,
    hf: PathBuf,
    other: PathBuf,
}

fn dirs() -> Dirs {
    let tmp = tempfile::tempdir().unwrap();
    let d = |n: &str| {
        let p = tmp.path().join(n);
        std::fs::create_dir_all(&p).unwrap();
        p
    };
    Dirs {
        cwd: d("cwd"),
        exe: d("bin"),
        hf: d("hf"),
        other: d("other"),
        _tmp: tmp,
    }
}

fn env(d: &Dirs) -> SearchEnv {
    SearchEnv {
        explicit: None,
        env_weights: None,
        cwd: Some(d.cwd.clone()),
        exe_dir: Some(d.exe.clone()),
        hub: cfg("http://127.0.0.1:9", &d.hf),
    }
}

fn put(dir: &Path, name: &str, arch: Arch) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    sparse(dir, name, &vgg_features(arch, "F32"), &[])
}

#[test]
fn locate_follows_the_search_order() {
    let d = dirs();
    let mut e = env(&d);
    let cache19 = weights::default_path(Model::Vgg19, &e.hub);
    let cache16 = weights::default_path(Model::Vgg16, &e.hub);
    assert_eq!(
        search_locations_in(&e),
        vec![
            d.cwd.join("weights"),
            d.exe.join("weights"),
            cache19.clone(),
            cache16.clone()
        ]
    );

    // Nothing anywhere: every place is listed with what to do.
    let msg = locate_in(&e).unwrap_err().to_string();
    for p in search_locations_in(&e) {
        assert!(msg.contains(&p.display().to_string()), "{p:?} not in {msg}");
    }
    assert!(
        msg.contains("atelier weights fetch") && msg.contains("--weights PATH"),
        "{msg}"
    );

    // Cache only.
    put(
        cache16.parent().unwrap(),
        "features.safetensors",
        Arch::Vgg16,
    );
    assert_eq!(locate_in(&e).unwrap().path, cache16);
    put(
        cache19.parent().unwrap(),
        "features.safetensors",
        Arch::Vgg19,
    );
    assert_eq!(locate_in(&e).unwrap().path, cache19);

    // Next to the executable beats the cache.
    let exe19 = put(&d.exe.join("weights"), "x.safetensors", Arch::Vgg19);
    assert_eq!(locate_in(&e).unwrap().path, exe19);

    // ./weights beats the executable folder, even with only a VGG16 and a garbage file.
    std::fs::create_dir_all(d.cwd.join("weights")).unwrap();
    std::fs::write(d.cwd.join("weights/aaa.safetensors"), b"garbage").unwrap();
    std::fs::write(d.cwd.join("weights/readme.txt"), b"not weights").unwrap();
    let cwd16 = put(&d.cwd.join("weights"), "m16.safetensors", Arch::Vgg16);
    let found = locate_in(&e).unwrap();
    assert_eq!(
        (found.path.clone(), found.arch),
        (cwd16.clone(), Arch::Vgg16)
    );

    // Within a folder: VGG19 preferred, then name order.
    let z19 = put(&d.cwd.join("weights"), "z19.safetensors", Arch::Vgg19);
    put(&d.cwd.join("weights"), "zz19.safetensors", Arch::Vgg19);
    assert_eq!(locate_in(&e).unwrap().path, z19);

    // ATELIER_WEIGHTS beats ./weights; relative paths are relative to the working directory.
    let other16 = put(&d.other, "o.safetensors", Arch::Vgg16);
    e.env_weights = Some(PathBuf::from("../other/o.safetensors"));
    assert_eq!(
        locate_in(&e).unwrap().path,
        d.cwd.join("../other/o.safetensors")
    );
    assert_eq!(
        search_locations_in(&e),
        vec![d.cwd.join("../other/o.safetensors")]
    );
    e.env_weights = Some(d.other.clone()); // a folder works too
    assert_eq!(locate_in(&e).unwrap().path, other16);

    // --weights beats everything, and a bad explicit file is an error, not a fallback.
    e.explicit = Some(cwd16.clone());
    assert_eq!(locate_in(&e).unwrap().path, cwd16);
    e.explicit = Some(d.cwd.join("weights/aaa.safetensors"));
    assert!(matches!(
        locate_in(&e).unwrap_err(),
        WeightsError::NotSafetensors { .. }
    ));
    e.explicit = Some(d.cwd.join("typo.safetensors"));
    let err = locate_in(&e).unwrap_err();
    assert!(
        matches!(err, WeightsError::NotFound { ref searched } if searched.len() == 1),
        "{err}"
    );
    assert!(
        err.to_string().contains("typo.safetensors") && err.to_string().contains("does not exist")
    );
}

#[test]
fn locate_reports_skipped_files() {
    let d = dirs();
    let e = env(&d);
    std::fs::create_dir_all(d.cwd.join("weights")).unwrap();
    let mut ts = vgg_features(Arch::Vgg19, "F32");
    ts[2].shape = vec![1];
    sparse(&d.cwd.join("weights"), "bad.safetensors", &ts, &[]);
    let msg = locate_in(&e).unwrap_err().to_string();
    assert!(
        msg.contains("bad.safetensors") && msg.contains("features.2.weight"),
        "{msg}"
    );
    assert!(msg.contains("no such folder"), "{msg}");
    assert!(msg.contains("not downloaded"), "{msg}");
}

#[test]
fn list_shows_models_and_local_copies() {
    let d = dirs();
    let e = env(&d);
    let rows = list_in(&e);
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0].model, rows[0].repo, rows[0].is_default),
        (Model::Vgg19, "timm/vgg19.tv_in1k", true)
    );
    assert_eq!(
        (rows[1].model, rows[1].repo, rows[1].is_default),
        (Model::Vgg16, "timm/vgg16.tv_in1k", false)
    );
    assert!(rows[0].download_bytes > 80_000_000 && rows[0].download_bytes < 81_000_000);
    assert!(rows.iter().all(|r| r.local.is_empty()));

    let cache19 = weights::default_path(Model::Vgg19, &e.hub);
    put(
        cache19.parent().unwrap(),
        "features.safetensors",
        Arch::Vgg19,
    );
    let w16 = put(&d.cwd.join("weights"), "a.safetensors", Arch::Vgg16);
    let rows = list_in(&e);
    assert_eq!(rows[0].local, vec![cache19]);
    assert_eq!(rows[1].local, vec![w16]);
}

#[test]
fn a_gone_saved_file_falls_back_to_the_search_and_says_so() {
    let d = dirs();
    let mut e = env(&d);
    let gone = d.other.join("moved-away.safetensors");

    // Nothing anywhere: the saved file is listed first, then every place searched.
    let err = weights::locate_saved_in(&gone, &e).unwrap_err();
    let WeightsError::NotFound { searched } = &err else {
        panic!("expected NotFound, got {err}");
    };
    assert_eq!(searched[0].path, gone);
    assert!(searched[0].outcome.contains("does not exist"), "{err}");
    assert_eq!(searched.len(), 1 + search_locations_in(&e).len(), "{err}");

    // The download cache holds good weights: they are used, and the note says so.
    let cache19 = weights::default_path(Model::Vgg19, &e.hub);
    put(
        cache19.parent().unwrap(),
        "features.safetensors",
        Arch::Vgg19,
    );
    let found = weights::locate_saved_in(&gone, &e).unwrap();
    assert_eq!(found.info.path, cache19);
    let note = found.note.expect("a note about the fallback");
    for needle in [
        gone.display().to_string(),
        cache19.display().to_string(),
        "download cache".to_string(),
    ] {
        assert!(note.contains(&needle), "{needle:?} missing in: {note}");
    }

    // A saved file that is there is used as it is, even a VGG16 with a VGG19 in the cache.
    let saved = put(&d.other, "saved.safetensors", Arch::Vgg16);
    let found = weights::locate_saved_in(&saved, &e).unwrap();
    assert_eq!((found.info.path, found.note), (saved, None));
    // …and one that is there but broken is reported, not silently replaced.
    let broken = d.other.join("broken.safetensors");
    std::fs::write(&broken, b"garbage").unwrap();
    assert!(matches!(
        weights::locate_saved_in(&broken, &e).unwrap_err(),
        WeightsError::NotSafetensors { .. }
    ));

    // A path the user names now (`--weights`) never falls back.
    e.explicit = Some(gone);
    assert!(matches!(
        locate_in(&e).unwrap_err(),
        WeightsError::NotFound { .. }
    ));
}
