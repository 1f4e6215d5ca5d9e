//! Getting a features-only file: from the hub (`fetch`) or from a full local file
//! (`convert_local`). Both run the same pipeline over a [`RangeSource`]:
//!
//! 1. probe the first 8 bytes (learns size + ETag),
//! 2. fetch the JSON header, check it describes a VGG,
//! 3. fetch only the `features.*` byte ranges (adjacent ones coalesced),
//! 4. write an F32 features-only file to a temp file, fsync, verify, rename into place.
//!
//! Steps 1–3 append to `<dest>.part`, which holds the header followed by the planned ranges
//! back to back; `<dest>.part.json` records the source, its ETag and size, and checkpoints of
//! the bytes so far. A rerun with the same ETag continues after the last checkpoint that still
//! matches (see [`super::resume`]); anything else starts over.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::config::default_path;
use super::config::{manual_hint, HubConfig};
use super::digest::Pin;
use super::error::WeightsError;
use super::file_source::FileSource;
use super::hub::HttpSource;
use super::inspect::{inspect, json_len, parse_header, vgg_layout, VggLayout};
use super::lock::DownloadLock;
use super::model::Model;
use super::resume::{PartWriter, Sidecar};
use super::source::{Plan, Probe, RangeSource};
use super::write::{write_features, Output};
use crate::engine::arch::Arch;

type Result<T> = std::result::Result<T, WeightsError>;

/// Reported after every received chunk; the CLI/studio throttle drawing themselves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FetchProgress {
    /// Bytes of the plan present locally (resumed bytes included).
    pub downloaded: u64,
    /// Bytes the plan needs in total (header + features ranges).
    pub total: u64,
    /// Average over this call (resumed bytes excluded).
    pub bytes_per_second: f64,
    pub eta_seconds: Option<f64>,
}

/// Downloads the features of `model` into `out` (default: [`default_path`]) and returns the path.
///
/// Returns at once, without network, if `out` already holds a valid file of that architecture
/// (delete it to download again). Interrupted or cancelled runs resume on the next call.
/// A hub download must match the features digest pinned for `model`
/// ([`Model::features_sha256`], overridden by `cfg.expected_sha256`); when none is known it is
/// not checked (see `verify` for the value to pin).
/// One download per destination at a time: while one runs (this process or another), a second
/// gets [`WeightsError::Busy`] instead of appending to the same `.part` (see `lock.rs`).
pub fn fetch(
    model: Model,
    cfg: &HubConfig,
    out: Option<&Path>,
    progress: &mut dyn FnMut(&FetchProgress),
    cancel: &AtomicBool,
) -> Result<PathBuf> {
    let dest = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_path(model, cfg));
    // A malformed pin is a configuration error, reported even when nothing needs downloading.
    let pin = Pin::for_download(model, cfg)?;
    if inspect(&dest).is_ok_and(|info| info.arch == model.arch()) {
        return Ok(dest);
    }
    if cfg.offline {
        return Err(WeightsError::Offline {
            path: dest,
            manual: manual_hint(model, cfg),
        });
    }
    let mut source = HttpSource::new(model, cfg);
    let revision = cfg.revision.clone();
    let job = Job {
        dest,
        expected: Some(model.arch()),
        label: Box::new(move |p: &Probe| {
            let id = p.revision.clone().or_else(|| {
                p.validator
                    .as_ref()
                    .map(|v| v.trim_start_matches("W/").trim_matches('"').to_string())
            });
            format!("{}@{}", model.repo(), id.unwrap_or(revision.clone()))
        }),
        retries: cfg.retries,
        pin,
    };
    run(&mut source, &job, progress, cancel)
}

/// The offline route: turns a full `model.safetensors` (VGG16 or VGG19, F32/F16/BF16) into the
/// features-only F32 file at `out`, through the same pipeline as `fetch`.
/// `source` becomes the `source` metadata (default `file:<name>`).
pub fn convert_local(
    model_file: &Path,
    out: &Path,
    source: Option<&str>,
    progress: &mut dyn FnMut(&FetchProgress),
    cancel: &AtomicBool,
) -> Result<PathBuf> {
    let mut src = FileSource::open(model_file)?;
    let label = source.map(str::to_string).unwrap_or_else(|| {
        let name = model_file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!("file:{name}")
    });
    let job = Job {
        dest: out.to_path_buf(),
        expected: None,
        label: Box::new(move |_| label.clone()),
        retries: 0,
        pin: None,
    };
    run(&mut src, &job, progress, cancel)
}

/// `.part` and its sidecar for a destination.
pub fn partial_paths(dest: &Path) -> (PathBuf, PathBuf) {
    let with = |suffix: &str| {
        let mut s = dest.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    (with(".part"), with(".part.json"))
}

pub(crate) struct Job<'a> {
    dest: PathBuf,
    expected: Option<Arch>,
    /// Computes the `source` metadata once the probe is known.
    label: Box<dyn Fn(&Probe) -> String + 'a>,
    retries: u32,
    /// Features digest the result must have (hub downloads only).
    pin: Option<Pin>,
}

fn run(
    source: &mut dyn RangeSource,
    job: &Job<'_>,
    progress: &mut dyn FnMut(&FetchProgress),
    cancel: &AtomicBool,
) -> Result<PathBuf> {
    let (part, sidecar) = partial_paths(&job.dest);
    if let Some(dir) = job.dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| WeightsError::io("create the folder", dir, e))?;
    }
    let mut lock = DownloadLock::acquire(&job.dest)?;
    // Another process may have finished the same download while we looked.
    if let Some(arch) = job.expected {
        if inspect(&job.dest).is_ok_and(|info| info.arch == arch) {
            return Ok(job.dest.clone());
        }
    }
    let mut restarted = false;
    loop {
        match run_once(source, job, &mut lock, progress, cancel) {
            Err(e @ WeightsError::SourceChanged { .. }) => {
                discard(&part, &sidecar);
                if restarted {
                    return Err(e);
                }
                restarted = true;
            }
            // Data or header problems would repeat from the same bytes: start clean next time.
            Err(
                e @ (WeightsError::NotSafetensors { .. }
                | WeightsError::NotVgg { .. }
                | WeightsError::Truncated { .. }
                | WeightsError::MissingTensor { .. }
                | WeightsError::WrongShape { .. }
                | WeightsError::WrongDtype { .. }
                | WeightsError::BadMetadata { .. }
                | WeightsError::NonFinite { .. }
                | WeightsError::DigestMismatch { .. }
                | WeightsError::BadResponse { .. }),
            ) => {
                discard(&part, &sidecar);
                return Err(e);
            }
            other => return other,
        }
    }
}

fn discard(part: &Path, sidecar: &Path) {
    // Best effort: a leftover is re-validated (and replaced) by the next run anyway.
    let _ = fs::remove_file(part);
    let _ = fs::remove_file(sidecar);
}

fn run_once(
    source: &mut dyn RangeSource,
    job: &Job<'_>,
    lock: &mut DownloadLock,
    progress: &mut dyn FnMut(&FetchProgress),
    cancel: &AtomicBool,
) -> Result<PathBuf> {
    let (part_path, sidecar_path) = partial_paths(&job.dest);
    if cancel.load(Ordering::Relaxed) {
        return Err(WeightsError::Cancelled { part: part_path });
    }
    let desc = source.describe();
    let probe = source.probe()?;
    let n = json_len(&desc, &probe.prefix, probe.total)?;
    let header_len = 8 + n;
    let want = Sidecar::new(
        desc.clone(),
        probe.validator.clone().unwrap_or_default(),
        probe.total,
        header_len,
    );
    let part = PartWriter::open(&part_path, &sidecar_path, want, &probe.prefix)?;
    let mut t = Download {
        part,
        lock,
        total: header_len,
        started: Instant::now(),
        session_bytes: 0,
        progress,
        cancel,
        retries_left: job.retries,
    };

    let fetched = fetch_plan(&mut t, source, job, &desc, &probe, n);
    // Whatever happened, what arrived is synced and recorded, so a rerun can trust it.
    let kept = t.part.checkpoint();
    let (plan, layout) = fetched?;
    kept?;

    let preprocess = layout
        .preprocess
        .clone()
        .unwrap_or_else(|| "torch".to_string());
    let label = (job.label)(&probe);
    let out = Output {
        dest: &job.dest,
        preprocess: &preprocess,
        source_label: &label,
        pin: job.pin.as_ref(),
    };
    write_features(&part_path, &plan, &layout, &desc, &out)?;
    discard(&part_path, &sidecar_path);
    Ok(job.dest.clone())
}

/// Steps 2–3: the header (checked to be the VGG asked for), then the planned ranges.
fn fetch_plan(
    t: &mut Download<'_>,
    source: &mut dyn RangeSource,
    job: &Job<'_>,
    desc: &str,
    probe: &Probe,
    json_len: u64,
) -> Result<(Plan, VggLayout)> {
    let header_len = 8 + json_len;
    // Header: in the .part at its own offsets.
    t.fetch_span(source, 0, header_len, 0)?;
    let json = read_part(t.part.path(), 8, json_len)?;
    let header = parse_header(desc, &json, probe.total)?;
    let layout = vgg_layout(desc, &header)?;
    if let Some(expected) = job.expected.filter(|a| *a != layout.arch) {
        return Err(WeightsError::NotVgg {
            file: desc.to_string(),
            reason: format!(
                "{expected} was requested but the file holds {}",
                layout.arch
            ),
        });
    }
    let plan = Plan::new(header_len, &layout);
    if t.part.len() > plan.total {
        return Err(WeightsError::SourceChanged {
            url: desc.to_string(),
            detail: "the partial data is longer than the file's features".into(),
        });
    }
    t.total = plan.total;
    t.report();
    for &(s, e, p) in &plan.spans {
        t.fetch_span(source, s, e, p)?;
    }
    Ok((plan, layout))
}

fn read_part(path: &Path, offset: u64, len: u64) -> Result<Vec<u8>> {
    let mut f = File::open(path).map_err(|e| WeightsError::io("open", path, e))?;
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| WeightsError::io("read", path, e))?;
    let mut buf = vec![0u8; len as usize];
    f.read_exact(&mut buf)
        .map_err(|e| WeightsError::io("read", path, e))?;
    Ok(buf)
}

/// Appends received bytes to the `.part`, reports progress, honours cancel and retries.
struct Download<'a> {
    part: PartWriter,
    lock: &'a mut DownloadLock,
    total: u64,
    started: Instant,
    session_bytes: u64,
    progress: &'a mut dyn FnMut(&FetchProgress),
    cancel: &'a AtomicBool,
    retries_left: u32,
}

impl Download<'_> {
    fn cancelled(&self) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(WeightsError::Cancelled {
                part: self.part.path().to_path_buf(),
            });
        }
        Ok(())
    }

    fn report(&mut self) {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 {
            self.session_bytes as f64 / secs
        } else {
            0.0
        };
        let done = self.part.len();
        let left = self.total.saturating_sub(done);
        let eta = if left == 0 {
            Some(0.0)
        } else if rate > 0.0 {
            Some(left as f64 / rate)
        } else {
            None
        };
        (self.progress)(&FetchProgress {
            downloaded: done,
            total: self.total,
            bytes_per_second: rate,
            eta_seconds: eta,
        });
    }

    fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.cancelled()?;
        self.part.append(chunk)?;
        self.lock.touch();
        self.session_bytes += chunk.len() as u64;
        self.report();
        Ok(())
    }

    /// Makes sure source bytes `[start, end)` are in the `.part` at `part_offset`.
    fn fetch_span(
        &mut self,
        source: &mut dyn RangeSource,
        start: u64,
        end: u64,
        part_offset: u64,
    ) -> Result<()> {
        let mut attempt = 0u32;
        loop {
            let done = self.part.len();
            let have = done.saturating_sub(part_offset).min(end - start);
            if have == end - start {
                return Ok(());
            }
            if done < part_offset {
                // Spans are filled in order, so this cannot happen unless the .part shrank.
                return Err(WeightsError::SourceChanged {
                    url: source.describe(),
                    detail: "the partial file is shorter than its own record".into(),
                });
            }
            self.cancelled()?;
            let result =
                source.read_range(start + have, end - start - have, &mut |c| self.write(c));
            self.part.flush()?;
            match result {
                Ok(()) => {}
                Err(e) if e.is_transient() && self.retries_left > 0 => {
                    self.retries_left -= 1;
                    attempt += 1;
                    self.sleep(Duration::from_millis(250 * u64::from(attempt)))?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn sleep(&self, total: Duration) -> Result<()> {
        let until = Instant::now() + total;
        while Instant::now() < until {
            self.cancelled()?;
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::inspect::TensorEntry;
    use safetensors::Dtype;

    fn layout(ranges: &[(u64, u64)]) -> VggLayout {
        VggLayout {
            arch: Arch::Vgg19,
            features: ranges
                .iter()
                .enumerate()
                .map(|(i, &(b, e))| {
                    (
                        format!("t{i}"),
                        TensorEntry {
                            dtype: Dtype::F32,
                            shape: vec![],
                            begin: b,
                            end: e,
                        },
                    )
                })
                .collect(),
            preprocess: None,
            dtype: Dtype::F32,
        }
    }

    #[test]
    fn plan_coalesces_near_ranges_and_skips_far_gaps() {
        let l = layout(&[(100, 200), (0, 100), (1000, 2000), (10_000_000, 10_000_004)]);
        let plan = Plan::new(16, &l);
        assert_eq!(
            plan.spans,
            vec![(16, 2016, 16), (10_000_016, 10_000_020, 2016)]
        );
        assert_eq!(plan.total, 2020);
        assert_eq!(plan.part_offset(5), Some(5));
        assert_eq!(plan.part_offset(10_000_017), Some(2017));
        assert_eq!(plan.part_offset(5_000_000), None);
    }

    #[test]
    fn partial_paths_sit_next_to_destination() {
        let (p, s) = partial_paths(Path::new("/a/features.safetensors"));
        assert_eq!(p, PathBuf::from("/a/features.safetensors.part"));
        assert_eq!(s, PathBuf::from("/a/features.safetensors.part.json"));
    }
}
