//! The `.part` of a download and its sidecar `.part.json`: what a rerun may continue from.
//!
//! A power loss can leave a `.part` whose length reached the disk while its last blocks did not
//! (zeros or garbage where data should be), so the length alone proves nothing. While writing,
//! [`PartWriter`] syncs the `.part` every [`CHECKPOINT_BYTES`] and only then records a
//! checkpoint (length + SHA-256 of every byte up to it) in the sidecar. A rerun hashes the
//! `.part` again, keeps the longest prefix whose checkpoint still matches, and truncates the
//! rest: at most one checkpoint's worth is downloaded again, and nothing unverified is kept.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::digest::hex;
use super::error::WeightsError;

type Result<T> = std::result::Result<T, WeightsError>;

/// How much may arrive between two syncs of the `.part`: what a power loss can cost.
pub(crate) const CHECKPOINT_BYTES: u64 = 8 << 20;

/// Version 1 sidecars had no checkpoints; their `.part` cannot be trusted and starts over.
const SIDECAR_VERSION: u32 = 2;

/// The sidecar: which source the `.part` holds bytes of, and how far they are verified.
#[derive(serde::Serialize, serde::Deserialize, PartialEq, Eq, Debug, Clone)]
pub(crate) struct Sidecar {
    version: u32,
    source: String,
    validator: String,
    total_size: u64,
    header_len: u64,
    /// Ascending; each one's bytes were synced before it was written here.
    #[serde(default)]
    checkpoints: Vec<Checkpoint>,
}

#[derive(serde::Serialize, serde::Deserialize, PartialEq, Eq, Debug, Clone)]
struct Checkpoint {
    len: u64,
    /// Lower-case hex SHA-256 of the `.part`'s bytes `[0, len)`.
    sha256: String,
}

impl Sidecar {
    pub(crate) fn new(source: String, validator: String, total_size: u64, header_len: u64) -> Self {
        Sidecar {
            version: SIDECAR_VERSION,
            source,
            validator,
            total_size,
            header_len,
            checkpoints: Vec::new(),
        }
    }

    /// Same source, same version of it: the old bytes may belong to this download.
    fn same_source(&self, other: &Sidecar) -> bool {
        (
            self.version,
            &self.source,
            &self.validator,
            self.total_size,
            self.header_len,
        ) == (
            other.version,
            &other.source,
            &other.validator,
            other.total_size,
            other.header_len,
        )
    }
}

/// Appends to the `.part`, hashing as it goes, and checkpoints it.
pub(crate) struct PartWriter {
    out: BufWriter<File>,
    path: PathBuf,
    sidecar_path: PathBuf,
    sidecar: Sidecar,
    hasher: Sha256,
    len: u64,
    checkpointed: u64,
}

impl PartWriter {
    /// Continues the longest verified prefix an earlier run left for `want`, or starts a new
    /// `.part` holding `prefix` (the probe's first bytes).
    pub(crate) fn open(
        part: &Path,
        sidecar_path: &Path,
        want: Sidecar,
        prefix: &[u8],
    ) -> Result<Self> {
        if let Some(w) = Self::resume(part, sidecar_path, &want, prefix) {
            return Ok(w);
        }
        write_sidecar(sidecar_path, &want)?;
        fs::write(part, prefix).map_err(|e| WeightsError::io("write", part, e))?;
        let mut hasher = Sha256::new();
        hasher.update(prefix);
        Ok(PartWriter {
            out: BufWriter::with_capacity(1 << 20, append(part)?),
            path: part.to_path_buf(),
            sidecar_path: sidecar_path.to_path_buf(),
            sidecar: want,
            hasher,
            len: prefix.len() as u64,
            checkpointed: 0,
        })
    }

    fn resume(part: &Path, sidecar_path: &Path, want: &Sidecar, prefix: &[u8]) -> Option<Self> {
        if want.validator.is_empty() {
            return None; // without an ETag we cannot tell whether the old bytes still belong
        }
        let mut have: Sidecar = serde_json::from_slice(&fs::read(sidecar_path).ok()?).ok()?;
        if !have.same_source(want) {
            return None;
        }
        let (len, hasher, kept) = verified_prefix(part, &have.checkpoints)?;
        if len < prefix.len() as u64 {
            return None;
        }
        let file = append(part).ok()?;
        let mut head = vec![0u8; prefix.len()];
        File::open(part).ok()?.read_exact(&mut head).ok()?;
        if head != prefix {
            return None;
        }
        // Whatever follows the last good checkpoint is unverified: drop it.
        file.set_len(len).ok()?;
        file.sync_all().ok()?;
        have.checkpoints.truncate(kept);
        Some(PartWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            path: part.to_path_buf(),
            sidecar_path: sidecar_path.to_path_buf(),
            sidecar: have,
            hasher,
            len,
            checkpointed: len,
        })
    }

    /// Bytes in the `.part` (written or buffered).
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn append(&mut self, chunk: &[u8]) -> Result<()> {
        self.out
            .write_all(chunk)
            .map_err(|e| WeightsError::io("write", &self.path, e))?;
        self.hasher.update(chunk);
        self.len += chunk.len() as u64;
        if self.len - self.checkpointed >= CHECKPOINT_BYTES {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Hands buffered bytes to the OS, so the `.part` can be read back.
    pub(crate) fn flush(&mut self) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| WeightsError::io("write", &self.path, e))
    }

    /// Syncs the `.part`, then records its length and hash: from now on a rerun trusts it.
    pub(crate) fn checkpoint(&mut self) -> Result<()> {
        if self.len == self.checkpointed {
            return Ok(());
        }
        self.flush()?;
        self.out
            .get_ref()
            .sync_data()
            .map_err(|e| WeightsError::io("sync", &self.path, e))?;
        self.sidecar.checkpoints.push(Checkpoint {
            len: self.len,
            sha256: hex(&self.hasher.clone().finalize()),
        });
        write_sidecar(&self.sidecar_path, &self.sidecar)?;
        self.checkpointed = self.len;
        Ok(())
    }
}

fn append(part: &Path) -> Result<File> {
    OpenOptions::new()
        .append(true)
        .open(part)
        .map_err(|e| WeightsError::io("open", part, e))
}

/// Replaces the sidecar atomically, so a crash leaves the old one or the new one, never half.
fn write_sidecar(path: &Path, sidecar: &Sidecar) -> Result<()> {
    let json = serde_json::to_vec(sidecar).unwrap_or_default();
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = PathBuf::from(tmp);
    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(&json)?;
        f.sync_data()
    });
    written.map_err(|e| WeightsError::io("write", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| WeightsError::io("write", path, e))
}

/// Hashes the `.part` from its start: the length of the longest prefix whose checkpoint
/// matches, the hasher at that point, and how many checkpoints that keeps.
fn verified_prefix(part: &Path, checkpoints: &[Checkpoint]) -> Option<(u64, Sha256, usize)> {
    let mut r = BufReader::with_capacity(1 << 20, File::open(part).ok()?);
    let mut hasher = Sha256::new();
    let mut good = (0u64, hasher.clone(), 0usize);
    let mut pos = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    for (i, c) in checkpoints.iter().enumerate() {
        if c.len < pos {
            break; // not ascending: a sidecar we did not write
        }
        let mut left = c.len - pos;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            if r.read_exact(&mut buf[..n]).is_err() {
                return Some(good); // the `.part` is shorter than this checkpoint
            }
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
        pos = c.len;
        if hex(&hasher.clone().finalize()) != c.sha256 {
            break;
        }
        good = (pos, hasher.clone(), i + 1);
    }
    Some(good)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sidecar() -> Sidecar {
        Sidecar::new("src".into(), "\"e\"".into(), 100, 16)
    }

    #[test]
    fn resume_keeps_only_the_prefix_whose_checkpoint_matches() {
        let dir = tempfile::tempdir().unwrap();
        let (part, side) = (dir.path().join("p"), dir.path().join("p.json"));
        let mut w = PartWriter::open(&part, &side, sidecar(), b"12345678").unwrap();
        w.append(&[7u8; 1000]).unwrap();
        w.checkpoint().unwrap();
        w.append(&[9u8; 500]).unwrap();
        w.checkpoint().unwrap();
        drop(w);
        // Zeros over the tail, length unchanged: only the first checkpoint still holds.
        let mut bytes = fs::read(&part).unwrap();
        bytes[1200..].fill(0);
        fs::write(&part, &bytes).unwrap();
        let w = PartWriter::open(&part, &side, sidecar(), b"12345678").unwrap();
        assert_eq!(w.len(), 1008);
        assert_eq!(fs::metadata(&part).unwrap().len(), 1008);
        // Another source: start over.
        let other = Sidecar::new("other".into(), "\"e\"".into(), 100, 16);
        let w = PartWriter::open(&part, &side, other, b"12345678").unwrap();
        assert_eq!(w.len(), 8);
    }
}
