//! Header-only inspection of a safetensors file, VGG detection, and the full `verify` scan.
//!
//! The same header checks run on a file on disk and on a header fetched over HTTP, so a
//! download is judged exactly like a file the user drops into `weights/`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use safetensors::Dtype;
use sha2::{Digest, Sha256};

pub(crate) use super::dtype::{decode_f32, float_size, hex};
use super::error::WeightsError;
use crate::engine::arch::Arch;

/// Headers above this are refused (same limit as the safetensors crate): a bigger one means
/// garbage or a hostile file, and we never want to allocate for it.
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

type Result<T> = std::result::Result<T, WeightsError>;

/// What `inspect` learns from a file's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightsInfo {
    pub path: PathBuf,
    pub arch: Arch,
    /// Metadata `preprocess`: "caffe" or "torch"; `None` when absent (callers default to torch).
    pub preprocess: Option<String>,
    /// The whole `__metadata__` map.
    pub metadata: HashMap<String, String>,
    pub file_size: u64,
    /// Dtype of the features tensors as stored ("F32", "F16" or "BF16").
    pub dtype: String,
}

/// `verify` result: the header facts plus a checksum users can compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub info: WeightsInfo,
    /// Lower-case hex SHA-256 of the whole file.
    pub sha256: String,
    /// Lower-case hex SHA-256 of the `features.*` tensors as F32 little-endian, in name order:
    /// the data section of the file `fetch` writes. Unlike `sha256` it ignores the metadata
    /// (which names the commit) and the source dtype/layout, so it is what a hub download is
    /// pinned to ([`crate::weights::Model::features_sha256`]).
    pub features_sha256: String,
}

/// One tensor of a header; offsets are relative to the data section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TensorEntry {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub begin: u64,
    pub end: u64,
}

/// A parsed and bounds-checked header.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    /// 8 + JSON length: where the data section starts.
    pub header_len: u64,
    pub tensors: BTreeMap<String, TensorEntry>,
    pub metadata: HashMap<String, String>,
}

/// The VGG view of a header: which arch, and its features tensors in layer order.
#[derive(Debug, Clone)]
pub(crate) struct VggLayout {
    pub arch: Arch,
    pub features: Vec<(String, TensorEntry)>,
    pub preprocess: Option<String>,
    pub dtype: Dtype,
}

/// Index and value of the first NaN/inf.
pub(crate) fn first_non_finite(values: &[f32]) -> Option<(usize, f32)> {
    values
        .iter()
        .position(|v| !v.is_finite())
        .map(|i| (i, values[i]))
}

pub(crate) fn non_finite_error(file: &str, tensor: &str, index: u64, value: f32) -> WeightsError {
    WeightsError::NonFinite {
        file: file.to_string(),
        tensor: tensor.to_string(),
        index,
        value: if value.is_nan() {
            "NaN".into()
        } else {
            format!("{value}")
        },
    }
}

/// Validates the 8-byte length prefix and returns the JSON length N.
pub(crate) fn json_len(file: &str, prefix: &[u8], total: u64) -> Result<u64> {
    let Some(bytes) = prefix.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) else {
        return Err(WeightsError::NotSafetensors {
            file: file.into(),
            reason: format!("it is only {total} bytes long"),
        });
    };
    let n = u64::from_le_bytes(bytes);
    if !(2..=MAX_HEADER_BYTES).contains(&n) {
        let printable = bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ');
        let hint = if printable {
            format!(
                "; it starts with {:?}, which is text (an HTML page or an error message?)",
                String::from_utf8_lossy(&bytes)
            )
        } else {
            String::new()
        };
        return Err(WeightsError::NotSafetensors {
            file: file.into(),
            reason: format!(
                "its header length field says {n} bytes (allowed: 2 to {MAX_HEADER_BYTES}){hint}"
            ),
        });
    }
    if 8 + n > total {
        return Err(WeightsError::Truncated {
            file: file.into(),
            tensor: None,
            detail: format!(
                "the header needs {} bytes but the file has only {total}",
                8 + n
            ),
        });
    }
    Ok(n)
}

#[derive(serde::Deserialize)]
struct RawTensor {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [u64; 2],
}

/// Parses the JSON header and checks what the safetensors crate checks on load (sizes match
/// shapes, tensors tile the data section exactly), so "inspect OK" means "the engine can load it".
pub(crate) fn parse_header(file: &str, json: &[u8], total: u64) -> Result<Header> {
    let header_len = 8 + json.len() as u64;
    let not_st = |reason: String| WeightsError::NotSafetensors {
        file: file.into(),
        reason,
    };
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(json)
        .map_err(|e| not_st(format!("its header is not valid JSON ({e})")))?;
    let mut tensors = BTreeMap::new();
    let mut metadata = HashMap::new();
    for (name, value) in map {
        if name == "__metadata__" {
            let serde_json::Value::Object(m) = value else {
                return Err(not_st("__metadata__ is not an object".into()));
            };
            for (k, v) in m {
                let serde_json::Value::String(s) = v else {
                    return Err(not_st(format!("__metadata__ value {k:?} is not a string")));
                };
                metadata.insert(k, s);
            }
            continue;
        }
        let raw: RawTensor = serde_json::from_value(value)
            .map_err(|e| not_st(format!("tensor {name} has a malformed entry ({e})")))?;
        let dtype: Dtype = serde_json::from_value(serde_json::Value::String(raw.dtype.clone()))
            .map_err(|_| not_st(format!("tensor {name} has unknown dtype {:?}", raw.dtype)))?;
        let [begin, end] = raw.data_offsets;
        let bits = raw
            .shape
            .iter()
            .try_fold(dtype.bitsize() as u64, |acc, &d| acc.checked_mul(d as u64));
        let size = match bits {
            Some(b) if b % 8 == 0 => b / 8,
            _ => {
                return Err(not_st(format!(
                    "tensor {name} has an impossible shape {:?}",
                    raw.shape
                )))
            }
        };
        if end < begin || end - begin != size {
            return Err(not_st(format!(
                "tensor {name} ({} {:?}) needs {size} bytes but its data_offsets [{begin}, {end}] disagree",
                raw.dtype, raw.shape
            )));
        }
        tensors.insert(
            name,
            TensorEntry {
                dtype,
                shape: raw.shape,
                begin,
                end,
            },
        );
    }

    let data_len = total.saturating_sub(header_len);
    let mut by_offset: Vec<(&String, &TensorEntry)> = tensors.iter().collect();
    by_offset.sort_by_key(|(_, t)| (t.begin, t.end));
    if let Some((name, t)) = by_offset.iter().find(|(_, t)| t.end > data_len) {
        return Err(WeightsError::Truncated {
            file: file.into(),
            tensor: Some((*name).clone()),
            detail: format!(
                "tensor {name} ends at byte {} but the file has only {total} bytes",
                header_len + t.end
            ),
        });
    }
    let mut expected = 0;
    for (name, t) in &by_offset {
        if t.begin != expected {
            return Err(not_st(format!(
                "tensor {name} starts at data offset {} where {expected} was expected (tensors overlap or leave a gap)",
                t.begin
            )));
        }
        expected = t.end;
    }
    if expected != data_len {
        return Err(not_st(format!(
            "it has {} stray bytes after the last tensor",
            data_len - expected
        )));
    }
    Ok(Header {
        header_len,
        tensors,
        metadata,
    })
}

fn conv_indices(arch: Arch) -> BTreeSet<usize> {
    arch.conv_shapes().iter().map(|s| s.0).collect()
}

/// Finds the VGG in a header: arch from the `features.N.weight` indices (metadata `arch` must
/// agree), then every conv's weight `[out,in,3,3]` and bias `[out]`. Non-features tensors
/// (timm's `pre_logits.*`/`head.*`, torchvision's `classifier.*`) are ignored.
pub(crate) fn vgg_layout(file: &str, header: &Header) -> Result<VggLayout> {
    let not_vgg = |reason: String| WeightsError::NotVgg {
        file: file.into(),
        reason,
    };
    let mut weights = BTreeSet::new();
    for name in header.tensors.keys() {
        let Some(rest) = name.strip_prefix("features.") else {
            continue;
        };
        let parsed = rest
            .split_once('.')
            .and_then(|(i, p)| i.parse::<usize>().ok().map(|i| (i, p)));
        match parsed {
            Some((i, "weight")) => {
                weights.insert(i);
            }
            Some((_, "bias")) => {}
            Some((_, "running_mean" | "running_var" | "num_batches_tracked")) => {
                return Err(not_vgg(format!(
                    "{name} belongs to a batch-norm layer; VGG-BN (e.g. vgg19_bn) is not supported, use the plain VGG"
                )))
            }
            _ => return Err(not_vgg(format!("it has an unexpected tensor {name}"))),
        }
    }
    if weights.is_empty() {
        let some: Vec<&str> = header.tensors.keys().take(5).map(String::as_str).collect();
        return Err(not_vgg(format!(
            "it has no features.N.weight tensors (it holds {} tensors: {}{})",
            header.tensors.len(),
            some.join(", "),
            if header.tensors.len() > 5 {
                ", …"
            } else {
                ""
            }
        )));
    }

    let meta_arch = match header.metadata.get("arch") {
        None => None,
        Some(v) => Some(Arch::from_name(v).ok_or_else(|| WeightsError::BadMetadata {
            file: file.into(),
            key: "arch".into(),
            value: v.clone(),
            reason: "expected \"vgg16\" or \"vgg19\"".into(),
        })?),
    };
    let exact = [Arch::Vgg19, Arch::Vgg16]
        .into_iter()
        .find(|a| conv_indices(*a) == weights);
    let arch = match (exact, meta_arch) {
        (Some(a), Some(m)) if a != m => {
            return Err(not_vgg(format!(
                "its metadata says arch={m} but its tensors are those of {a}"
            )))
        }
        (Some(a), _) => a,
        (None, Some(m)) => m,
        (None, None) => {
            // Only missing layers (a subset of one arch) is "incomplete"; anything else is another net.
            let subset_of = |a: Arch| weights.is_subset(&conv_indices(a));
            if subset_of(Arch::Vgg19) {
                Arch::Vgg19
            } else if subset_of(Arch::Vgg16) {
                Arch::Vgg16
            } else {
                return Err(not_vgg(format!(
                    "its conv layers sit at features indices {weights:?}, which match neither VGG16 {:?} nor VGG19 {:?} (VGG11/13 or another network?)",
                    conv_indices(Arch::Vgg16),
                    conv_indices(Arch::Vgg19)
                )));
            }
        }
    };
    let expected_idx = conv_indices(arch);
    if let Some(extra) = weights.difference(&expected_idx).next() {
        return Err(not_vgg(format!(
            "it has features.{extra}.weight, which is not a conv layer of {arch}"
        )));
    }

    let mut features = Vec::with_capacity(2 * expected_idx.len());
    for (idx, out, inp) in arch.conv_shapes() {
        for (param, shape) in [("weight", vec![out, inp, 3, 3]), ("bias", vec![out])] {
            let name = format!("features.{idx}.{param}");
            let Some(t) = header.tensors.get(&name) else {
                return Err(WeightsError::MissingTensor {
                    file: file.into(),
                    tensor: name,
                    arch,
                });
            };
            if t.shape != shape {
                return Err(WeightsError::WrongShape {
                    file: file.into(),
                    tensor: name,
                    arch,
                    expected: shape,
                    found: t.shape.clone(),
                });
            }
            if float_size(t.dtype).is_none() {
                return Err(WeightsError::WrongDtype {
                    file: file.into(),
                    tensor: name,
                    dtype: t.dtype.to_string(),
                });
            }
            features.push((name, t.clone()));
        }
    }
    // Bias tensors of layers that do not exist (e.g. features.1.bias) are another net too.
    let known: BTreeSet<&str> = features.iter().map(|(n, _)| n.as_str()).collect();
    if let Some(stray) = header
        .tensors
        .keys()
        .find(|n| n.starts_with("features.") && !known.contains(n.as_str()))
    {
        return Err(not_vgg(format!(
            "it has {stray}, which is not a layer of {arch}"
        )));
    }

    let preprocess = match header.metadata.get("preprocess") {
        None => None,
        Some(p) if p == "caffe" || p == "torch" => Some(p.clone()),
        Some(p) => {
            return Err(WeightsError::BadMetadata {
                file: file.into(),
                key: "preprocess".into(),
                value: p.clone(),
                reason: "expected \"caffe\" or \"torch\"".into(),
            })
        }
    };
    let dtype = features[0].1.dtype;
    Ok(VggLayout {
        arch,
        features,
        preprocess,
        dtype,
    })
}

/// Reads and checks the header of a file on disk; never reads tensor data.
pub(crate) fn read_layout(path: &Path) -> Result<(File, u64, Header, VggLayout)> {
    let file_name = path.display().to_string();
    let mut f = File::open(path).map_err(|e| WeightsError::io("open", path, e))?;
    let size = f
        .metadata()
        .map_err(|e| WeightsError::io("read the size of", path, e))?
        .len();
    let mut prefix = [0u8; 8];
    let got = if size >= 8 {
        f.read_exact(&mut prefix)
            .map_err(|e| WeightsError::io("read", path, e))?;
        8
    } else {
        0
    };
    let n = json_len(&file_name, &prefix[..got], size)?;
    let mut json = vec![0u8; n as usize];
    f.read_exact(&mut json)
        .map_err(|e| WeightsError::io("read the header of", path, e))?;
    let header = parse_header(&file_name, &json, size)?;
    let layout = vgg_layout(&file_name, &header)?;
    Ok((f, size, header, layout))
}

/// Header-only check of a weights file: cheap enough to call on every candidate in `weights/`.
pub fn inspect(path: &Path) -> Result<WeightsInfo> {
    let (_, size, header, layout) = read_layout(path)?;
    Ok(info_from(path, size, header, &layout))
}

/// [`inspect`] of a file already read into memory: the engine runs it before building a network
/// from the bytes, so a file is judged one way (one VGG detection) wherever it is loaded.
pub fn inspect_bytes(path: &Path, bytes: &[u8]) -> Result<WeightsInfo> {
    let file_name = path.display().to_string();
    let size = bytes.len() as u64;
    let n = json_len(&file_name, bytes, size)?;
    let json = bytes.get(8..8 + n as usize).unwrap_or_default();
    let header = parse_header(&file_name, json, size)?;
    let layout = vgg_layout(&file_name, &header)?;
    Ok(info_from(path, size, header, &layout))
}

fn info_from(path: &Path, size: u64, header: Header, layout: &VggLayout) -> WeightsInfo {
    WeightsInfo {
        path: path.to_path_buf(),
        arch: layout.arch,
        preprocess: layout.preprocess.clone(),
        metadata: header.metadata,
        file_size: size,
        dtype: layout.dtype.to_string(),
    }
}

/// `inspect`, then one sequential pass over the file: SHA-256 of everything, the features
/// digest (a second pass unless the file is features-only F32, as `fetch` writes it) and a
/// NaN/inf scan of every features tensor.
pub fn verify(path: &Path) -> Result<Verified> {
    let (f, size, header, layout) = read_layout(path)?;
    let file_name = path.display().to_string();
    let features: HashMap<&str, Dtype> = layout
        .features
        .iter()
        .map(|(n, t)| (n.as_str(), t.dtype))
        .collect();
    let mut by_offset: Vec<(&String, &TensorEntry)> = header.tensors.iter().collect();
    by_offset.sort_by_key(|(_, t)| t.begin);
    // Features only, F32, stored in name order: the data section is what the digest hashes.
    let mut same_pass = (features.len() == by_offset.len()
        && features.values().all(|d| *d == Dtype::F32)
        && by_offset.windows(2).all(|w| w[0].0 < w[1].0))
    .then(Sha256::new);

    let mut r = BufReader::with_capacity(1 << 20, f);
    let mut hasher = Sha256::new();
    // The header again, from the start, so the hash covers the whole file.
    let mut reader = HashingReader {
        inner: &mut r,
        hasher: &mut hasher,
        path,
    };
    reader.rewind()?;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = header.header_len;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        reader.read_exact(&mut buf[..n], &file_name)?;
        left -= n as u64;
    }
    let mut values = Vec::new();
    for (name, t) in by_offset {
        let check = features.get(name.as_str()).copied();
        let mut left = t.end - t.begin;
        let mut index = 0u64;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            reader.read_exact(&mut buf[..n], &file_name)?;
            if let Some(h) = same_pass.as_mut() {
                h.update(&buf[..n]);
            }
            if let Some(dtype) = check {
                decode_f32(dtype, &buf[..n], &mut values);
                if let Some((i, v)) = first_non_finite(&values) {
                    return Err(non_finite_error(&file_name, name, index + i as u64, v));
                }
                index += values.len() as u64;
            }
            left -= n as u64;
        }
    }
    let sha256 = hex(&hasher.finalize());
    let features_sha256 = match same_pass {
        Some(h) => hex(&h.finalize()),
        None => {
            let f = File::open(path).map_err(|e| WeightsError::io("open", path, e))?;
            features_digest(f, path, header.header_len, &layout)?
        }
    };
    Ok(Verified {
        info: info_from(path, size, header, &layout),
        sha256,
        features_sha256,
    })
}

struct HashingReader<'a, R> {
    inner: &'a mut BufReader<R>,
    hasher: &'a mut Sha256,
    path: &'a Path,
}

impl<R: Read + std::io::Seek> HashingReader<'_, R> {
    fn rewind(&mut self) -> Result<()> {
        use std::io::Seek;
        self.inner
            .rewind()
            .map_err(|e| WeightsError::io("read", self.path, e))
    }

    fn read_exact(&mut self, buf: &mut [u8], file: &str) -> Result<()> {
        self.inner.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                WeightsError::Truncated {
                    file: file.into(),
                    tensor: None,
                    detail: "it became shorter while being read".into(),
                }
            } else {
                WeightsError::io("read", self.path, e)
            }
        })?;
        self.hasher.update(&*buf);
        Ok(())
    }
}

/// Hashes the features of a file on disk whose header is already parsed: one read per
/// tensor, in name order, widening F16/BF16 to F32 first.
pub(crate) fn features_digest(
    file: File,
    path: &Path,
    header_len: u64,
    layout: &VggLayout,
) -> Result<String> {
    let mut order: Vec<_> = layout.features.iter().collect();
    order.sort_by(|a, b| a.0.cmp(&b.0));
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut values = Vec::new();
    let mut bytes = Vec::new();
    let io = |e| WeightsError::io("read", path, e);
    for (_, t) in order {
        let elem = float_size(t.dtype).unwrap_or(4);
        r.seek(SeekFrom::Start(header_len + t.begin)).map_err(io)?;
        let mut left = t.end - t.begin;
        while left > 0 {
            let n = left.min((buf.len() / elem * elem) as u64) as usize;
            r.read_exact(&mut buf[..n]).map_err(io)?;
            decode_f32(t.dtype, &buf[..n], &mut values);
            bytes.clear();
            bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            hasher.update(&bytes);
            left -= n as u64;
        }
    }
    Ok(hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_half_floats() {
        let mut out = Vec::new();
        let h = half::f16::from_f32(1.5).to_le_bytes();
        let b = half::bf16::from_f32(-2.0).to_le_bytes();
        decode_f32(Dtype::F16, &h, &mut out);
        assert_eq!(out, vec![1.5]);
        decode_f32(Dtype::BF16, &b, &mut out);
        assert_eq!(out, vec![-2.0]);
        assert_eq!(
            first_non_finite(&[1.0, f32::INFINITY]),
            Some((1, f32::INFINITY))
        );
    }

    #[test]
    fn json_len_reports_text() {
        let e = json_len("x", b"<!DOCTYP", 1000).unwrap_err().to_string();
        assert!(e.contains("HTML"), "{e}");
    }
}
