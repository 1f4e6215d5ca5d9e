//! What the download pipeline reads from and what it plans: a [`RangeSource`] (the hub over
//! HTTP, or a local file) answers byte ranges, and a [`Plan`] says which ranges of a VGG file
//! are its features and where each lands in the `.part`. Below `fetch`, above nothing of it.

use super::error::WeightsError;
use super::inspect::VggLayout;

type Result<T> = std::result::Result<T, WeightsError>;

/// Ranges closer than this are fetched as one request (the gap is downloaded and skipped):
/// a round trip costs more than a few KB.
const COALESCE_GAP: u64 = 64 * 1024;

/// What the first request of a source tells: enough to decide whether a `.part` is still valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Probe {
    pub total: u64,
    pub validator: Option<String>,
    /// Commit the hub resolved the revision to, if it said.
    pub revision: Option<String>,
    /// The first `min(8, total)` bytes.
    pub prefix: Vec<u8>,
}

pub(crate) type Sink<'a> = &'a mut dyn FnMut(&[u8]) -> Result<()>;

/// Something to read byte ranges of a safetensors file from.
pub(crate) trait RangeSource {
    /// URL or path, for messages.
    fn describe(&self) -> String;
    fn probe(&mut self) -> Result<Probe>;
    /// Streams `[start, start + len)` into `sink`; `SourceChanged` if it no longer matches the probe.
    fn read_range(&mut self, start: u64, len: u64, sink: Sink<'_>) -> Result<()>;
}

/// Byte ranges to fetch (absolute in the source) and where each lands in the `.part`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub header_len: u64,
    /// `(source start, source end, part offset)`, sorted.
    pub spans: Vec<(u64, u64, u64)>,
    /// Final `.part` length.
    pub total: u64,
}

impl Plan {
    pub(crate) fn new(header_len: u64, layout: &VggLayout) -> Self {
        let mut ranges: Vec<(u64, u64)> = layout
            .features
            .iter()
            .map(|(_, t)| (header_len + t.begin, header_len + t.end))
            .collect();
        ranges.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (s, e) in ranges {
            match merged.last_mut() {
                Some(last) if s <= last.1 + COALESCE_GAP => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let mut offset = header_len;
        let spans = merged
            .into_iter()
            .map(|(s, e)| {
                let span = (s, e, offset);
                offset += e - s;
                span
            })
            .collect();
        Plan {
            header_len,
            spans,
            total: offset,
        }
    }

    /// Where source byte `abs` sits in the `.part`.
    pub(crate) fn part_offset(&self, abs: u64) -> Option<u64> {
        if abs < self.header_len {
            return Some(abs);
        }
        self.spans
            .iter()
            .find(|(s, e, _)| (*s..*e).contains(&abs))
            .map(|(s, _, p)| p + (abs - s))
    }
}
