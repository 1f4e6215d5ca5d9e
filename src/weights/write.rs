//! Writing the features-only file. Always F32: F16/BF16 sources are widened here so the engine
//! has a single load path and the file on disk is what the math uses.
//!
//! Never leaves a half-written file at the destination: temp file in the same folder, fsync,
//! full `verify`, the features digest checked against the pin (hub downloads), then an atomic
//! rename (and an fsync of the folder so the rename sticks).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::digest::Pin;
use super::error::WeightsError;
use super::inspect::{
    decode_f32, first_non_finite, float_size, non_finite_error, verify, VggLayout,
};
use super::source::Plan;

type Result<T> = std::result::Result<T, WeightsError>;

/// Removes the temp file unless the rename happened.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

/// JSON header of the output: `__metadata__` then tensors, all sorted by name (as the
/// safetensors crate itself would write them), padded with spaces to 8 bytes.
fn output_header(layout: &VggLayout, metadata: &BTreeMap<&str, &str>) -> (Vec<u8>, Vec<usize>) {
    let mut order: Vec<usize> = (0..layout.features.len()).collect();
    order.sort_by(|&a, &b| layout.features[a].0.cmp(&layout.features[b].0));
    let mut map = serde_json::Map::new();
    map.insert("__metadata__".into(), serde_json::json!(metadata));
    let mut offset = 0u64;
    for &i in &order {
        let (name, t) = &layout.features[i];
        let len = t.shape.iter().product::<usize>() as u64 * 4;
        map.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + len]}),
        );
        offset += len;
    }
    let mut json = serde_json::Value::Object(map).to_string().into_bytes();
    json.resize(json.len().next_multiple_of(8), b' ');
    (json, order)
}

/// What to write besides the tensors, and where.
pub(crate) struct Output<'a> {
    pub dest: &'a Path,
    pub preprocess: &'a str,
    /// The `source` metadata.
    pub source_label: &'a str,
    /// The features digest the file must have to be installed.
    pub pin: Option<&'a Pin>,
}

/// Builds `out.dest` from the `.part` described by `plan`. `desc` names the source in errors.
pub(crate) fn write_features(
    part: &Path,
    plan: &Plan,
    layout: &VggLayout,
    desc: &str,
    out_spec: &Output<'_>,
) -> Result<()> {
    let dest = out_spec.dest;
    let metadata = BTreeMap::from([
        ("arch", layout.arch.name()),
        ("preprocess", out_spec.preprocess),
        ("source", out_spec.source_label),
    ]);
    let (json, order) = output_header(layout, &metadata);
    let dir = dest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "weights".into());
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{serial}", std::process::id()));
    let mut guard = TempGuard(Some(tmp.clone()));

    let mut input = BufReader::with_capacity(
        1 << 20,
        File::open(part).map_err(|e| WeightsError::io("open", part, e))?,
    );
    let out_file = File::create(&tmp).map_err(|e| WeightsError::io("create", &tmp, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, out_file);
    let werr = |e| WeightsError::io("write", &tmp, e);
    out.write_all(&(json.len() as u64).to_le_bytes())
        .map_err(werr)?;
    out.write_all(&json).map_err(werr)?;

    let mut buf = vec![0u8; 1 << 20];
    let mut values = Vec::new();
    let mut bytes = Vec::new();
    for &i in &order {
        let (tensor, t) = &layout.features[i];
        let elem = float_size(t.dtype).unwrap_or(4);
        let Some(at) = plan.part_offset(plan.header_len + t.begin) else {
            return Err(WeightsError::NotSafetensors {
                file: desc.into(),
                reason: format!("internal error: tensor {tensor} is outside the download plan"),
            });
        };
        input
            .seek(SeekFrom::Start(at))
            .map_err(|e| WeightsError::io("read", part, e))?;
        let mut left = t.end - t.begin;
        let mut index = 0u64;
        while left > 0 {
            let n = left.min((buf.len() / elem * elem) as u64) as usize;
            input
                .read_exact(&mut buf[..n])
                .map_err(|e| WeightsError::io("read", part, e))?;
            decode_f32(t.dtype, &buf[..n], &mut values);
            if let Some((k, v)) = first_non_finite(&values) {
                return Err(non_finite_error(desc, tensor, index + k as u64, v));
            }
            bytes.clear();
            bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            out.write_all(&bytes).map_err(werr)?;
            index += values.len() as u64;
            left -= n as u64;
        }
    }
    let out_file = out.into_inner().map_err(|e| werr(e.into_error()))?;
    out_file
        .sync_all()
        .map_err(|e| WeightsError::io("sync", &tmp, e))?;
    drop(out_file);

    let verified = verify(&tmp)?;
    if verified.info.arch != layout.arch {
        return Err(WeightsError::NotVgg {
            file: tmp.display().to_string(),
            reason: format!(
                "internal error: wrote {} instead of {}",
                verified.info.arch, layout.arch
            ),
        });
    }
    if let Some(pin) = out_spec.pin {
        pin.check(&verified.features_sha256, desc)?;
    }
    fs::rename(&tmp, dest).map_err(|e| WeightsError::io("move the new file to", dest, e))?;
    guard.0 = None;
    sync_dir(dir);
    Ok(())
}

/// Makes the rename durable (Unix; Windows has no directory handles for this).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
