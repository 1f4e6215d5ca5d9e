//! A local file as a [`RangeSource`], so `--from FILE` runs the same pipeline as a download.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::error::WeightsError;
use super::source::{Probe, RangeSource, Sink};

type Result<T> = std::result::Result<T, WeightsError>;

/// A local file as a range source, so `--from FILE` runs the network code path.
pub(crate) struct FileSource {
    path: PathBuf,
    file: File,
    len: u64,
}

impl FileSource {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| WeightsError::io("open", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| WeightsError::io("read the size of", path, e))?
            .len();
        Ok(FileSource {
            path: path.to_path_buf(),
            file,
            len,
        })
    }
}

impl RangeSource for FileSource {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn probe(&mut self) -> Result<Probe> {
        let meta = self
            .file
            .metadata()
            .map_err(|e| WeightsError::io("read the size of", &self.path, e))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        self.len = meta.len();
        let mut prefix = vec![0u8; self.len.min(8) as usize];
        self.file
            .seek(SeekFrom::Start(0))
            .and_then(|_| self.file.read_exact(&mut prefix))
            .map_err(|e| WeightsError::io("read", &self.path, e))?;
        Ok(Probe {
            total: self.len,
            validator: Some(format!("file:{}:{mtime}", self.len)),
            revision: None,
            prefix,
        })
    }

    fn read_range(&mut self, start: u64, len: u64, sink: Sink<'_>) -> Result<()> {
        if start + len > self.len {
            return Err(WeightsError::Truncated {
                file: self.describe(),
                tensor: None,
                detail: format!("needed bytes up to {} of {}", start + len, self.len),
            });
        }
        self.file
            .seek(SeekFrom::Start(start))
            .map_err(|e| WeightsError::io("read", &self.path, e))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut left = len;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            self.file
                .read_exact(&mut buf[..n])
                .map_err(|e| WeightsError::io("read", &self.path, e))?;
            sink(&buf[..n])?;
            left -= n as u64;
        }
        Ok(())
    }
}
