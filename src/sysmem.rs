//! The machine's memory: what a new allocation can get, the one rule for whether a need fits,
//! and how sizes read. A leaf: the engine's estimates, image decoding and the studio all use it.

/// Never plan to use the last bit of available memory: the OS and other programs need some.
pub const HEADROOM: f64 = 0.9;

/// Bytes as "1.2 GiB" / "850 MiB".
pub fn human(bytes: u64) -> String {
    let mib = bytes as f64 / f64::from(1u32 << 20);
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.0} MiB")
    }
}

/// Memory a new allocation can get: Linux's `MemAvailable`, lowered to `ATELIER_MEMORY_LIMIT`
/// (bytes, or with a K/M/G suffix) when that is set, so Atelier can be kept to a share of a
/// machine; `None` where neither says, in which case no check is made.
pub fn available_bytes() -> Option<u64> {
    let system = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| parse_mem_available(&t));
    let limit = std::env::var("ATELIER_MEMORY_LIMIT")
        .ok()
        .and_then(|v| parse_size(&v));
    match (system, limit) {
        (Some(s), Some(l)) => Some(s.min(l)),
        (s, l) => s.or(l),
    }
}

pub fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `"2G"`, `"512M"`, `"1.5GiB"`, `"1000000"` → bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text
        .trim()
        .trim_end_matches(['B', 'b'])
        .trim_end_matches(['i', 'I']);
    let (num, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return None,
    };
    let v: f64 = num.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| (v * (1u64 << shift) as f64) as u64)
}

/// The one rule for "does it fit", used by every check here and by the studio's Start button:
/// never plan past [`HEADROOM`] of what is available; unknown availability never refuses.
pub fn fits(need: u64, available: Option<u64>) -> bool {
    available.is_none_or(|a| need as f64 <= a as f64 * HEADROOM)
}
