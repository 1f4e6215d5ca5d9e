//! Hugging Face hub access: byte-range reads of a hub file over HTTP (the configuration is in
//! `config.rs`).
//!
//! Redirects are followed by hand (not by ureq) so that the `Range`/`If-Range` headers are
//! re-sent on every hop and the token only ever goes to the endpoint's own origin.

use std::io::Read;
use std::time::{Duration, Instant};

use super::config::{manual_hint, HubConfig};
use super::error::WeightsError;
use super::model::Model;
use super::source::{Probe, RangeSource, Sink};

type Result<T> = std::result::Result<T, WeightsError>;

const MAX_REDIRECTS: usize = 10;
const CHUNK: usize = 256 * 1024;

/// `scheme://host:port`, lower-cased with the default port filled in: the unit of trust for the token.
pub(crate) fn origin(url: &str) -> Option<String> {
    let uri: ureq::http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let host = uri.host()?.to_ascii_lowercase();
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    Some(format!("{scheme}://{host}:{port}"))
}

/// Resolves a `Location` header against the URL that sent it.
pub(crate) fn resolve_location(base: &str, location: &str) -> String {
    let lower = location.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return location.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    if let Some(loc) = location.strip_prefix("//") {
        return format!("{scheme}://{loc}");
    }
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = &rest[authority_end..];
    let path = path.split(['?', '#']).next().unwrap_or("");
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let dir = if dir.is_empty() { "/" } else { dir };
    format!("{scheme}://{authority}{dir}{location}")
}

/// `bytes a-b/total` → (a, b, total).
pub(crate) fn parse_content_range(v: &str) -> Option<(u64, u64, u64)> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    let (a, b, total) = (
        a.trim().parse().ok()?,
        b.trim().parse().ok()?,
        total.trim().parse().ok()?,
    );
    (a <= b && b < total).then_some((a, b, total))
}

fn header(resp: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A hub file read by HTTP Range requests.
pub(crate) struct HttpSource {
    agent: ureq::Agent,
    url: String,
    token_origin: Option<String>,
    token: Option<String>,
    manual: String,
    probe: Option<Probe>,
    /// ETag of the server that actually sends the bytes (the CDN), for `If-Range`.
    data_etag: Option<String>,
    floor: RateFloor,
}

/// The slowest a response may be: at least `min_bytes` in every `window` (checked as
/// consecutive windows, each time a read returns).
#[derive(Debug, Clone, Copy)]
struct RateFloor {
    window: Duration,
    min_bytes: u64,
}

struct Fetched {
    resp: ureq::http::Response<ureq::Body>,
    url: String,
    /// Headers the hub puts on its redirect: the commit and the file's own ETag.
    commit: Option<String>,
    linked_etag: Option<String>,
}

impl HttpSource {
    pub(crate) fn new(model: Model, cfg: &HubConfig) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(cfg.timeout))
            .timeout_recv_response(Some(cfg.timeout))
            .timeout_per_read(Some(cfg.timeout))
            .user_agent(concat!("atelier/", env!("CARGO_PKG_VERSION")))
            // A local mirror is never reached through a proxy, NO_PROXY or not.
            .proxy(if is_loopback(&cfg.endpoint) {
                None
            } else {
                ureq::Proxy::try_from_env()
            })
            .build();
        let url = cfg.file_url(model);
        HttpSource {
            agent: config.into(),
            token_origin: origin(&cfg.endpoint),
            token: cfg.token.clone(),
            url,
            manual: manual_hint(model, cfg),
            probe: None,
            data_etag: None,
            floor: RateFloor {
                window: cfg.rate_window,
                min_bytes: cfg.min_bytes_per_window,
            },
        }
    }

    fn unreachable(&self, url: &str, e: ureq::Error) -> WeightsError {
        use std::io::ErrorKind;
        let reason = match &e {
            ureq::Error::Io(io) => match io.kind() {
                ErrorKind::ConnectionRefused => "connection refused".to_string(),
                ErrorKind::TimedOut => "timed out".to_string(),
                _ => io.to_string(),
            },
            ureq::Error::HostNotFound => "DNS lookup failed: no network, or unknown host".into(),
            ureq::Error::Timeout(t) => format!("timed out: {t}"),
            other => other.to_string(),
        };
        let endpoint = origin(url)
            .map(|o| {
                o.trim_end_matches(":443")
                    .trim_end_matches(":80")
                    .to_string()
            })
            .unwrap_or_else(|| url.to_string());
        WeightsError::Unreachable {
            endpoint,
            reason,
            manual: self.manual.clone(),
        }
    }

    fn bad(&self, url: &str, reason: impl Into<String>) -> WeightsError {
        WeightsError::BadResponse {
            url: url.to_string(),
            reason: reason.into(),
            manual: self.manual.clone(),
        }
    }

    /// GET with `Range` (and `If-Range`), following up to 10 redirects by hand.
    fn get(&self, first: u64, last: u64, if_range: Option<&str>) -> Result<Fetched> {
        let mut url = self.url.clone();
        let (mut commit, mut linked_etag) = (None, None);
        for hop in 0..=MAX_REDIRECTS {
            let mut req = self
                .agent
                .get(&url)
                .header("Range", format!("bytes={first}-{last}"));
            if let Some(v) = if_range {
                req = req.header("If-Range", v);
            }
            if let (Some(token), Some(trusted)) = (&self.token, &self.token_origin) {
                if origin(&url).as_ref() == Some(trusted) {
                    req = req.header("Authorization", format!("Bearer {token}"));
                }
            }
            let resp = req.call().map_err(|e| self.unreachable(&url, e))?;
            if hop == 0 {
                commit = header(&resp, "x-repo-commit");
                linked_etag = header(&resp, "x-linked-etag");
            }
            let status = resp.status().as_u16();
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                let Some(loc) = header(&resp, "location") else {
                    return Err(
                        self.bad(&url, format!("HTTP {status} redirect without a Location"))
                    );
                };
                url = resolve_location(&url, &loc);
                continue;
            }
            return Ok(Fetched {
                resp,
                url,
                commit,
                linked_etag,
            });
        }
        Err(self.bad(&self.url, "too many redirects"))
    }

    /// Turns anything but a usable 206 into the right error.
    fn expect_partial(&self, f: &mut Fetched, sent_if_range: bool) -> Result<(u64, u64, u64)> {
        let status = f.resp.status().as_u16();
        let url = f.url.clone();
        let content_type = header(&f.resp, "content-type").unwrap_or_default();
        if (200..300).contains(&status) && content_type.to_ascii_lowercase().contains("text/html") {
            return Err(self.bad(
                &url,
                "got an HTML page instead of the file (a login page, captive portal or proxy error?)",
            ));
        }
        match status {
            206 => {}
            200 => {
                // Sniff a little: an HTML page served as octet-stream is still an HTML page.
                let mut head = [0u8; 64];
                let n = f.resp.body_mut().as_reader().read(&mut head).unwrap_or(0);
                let text = String::from_utf8_lossy(&head[..n])
                    .trim_start()
                    .to_ascii_lowercase();
                if text.starts_with('<') {
                    return Err(self.bad(&url, "got an HTML page instead of the file"));
                }
                if sent_if_range {
                    return Err(WeightsError::SourceChanged {
                        url,
                        detail: "the server no longer matches the ETag of the partial data".into(),
                    });
                }
                return Err(self.bad(
                    &url,
                    "the server ignored the Range request and started sending the whole file",
                ));
            }
            416 => {
                return Err(WeightsError::SourceChanged {
                    url,
                    detail: "the requested byte range no longer exists".into(),
                })
            }
            401 | 403 => {
                let hint = if self.token.is_some() {
                    "access denied although HF_TOKEN was sent; check that the token is valid and has access to the repo"
                } else {
                    "access denied; if the repo needs a login, set HF_TOKEN to a Hugging Face access token"
                };
                return Err(WeightsError::Http {
                    url,
                    status,
                    hint: hint.into(),
                });
            }
            404 => {
                return Err(WeightsError::Http {
                    url,
                    status,
                    hint: "not found; check the repo name and revision (and HF_ENDPOINT)".into(),
                })
            }
            s if s == 429 || s >= 500 => {
                return Err(WeightsError::Http {
                    url,
                    status,
                    hint: "the server is busy or failing; try again later".into(),
                })
            }
            _ => {
                return Err(WeightsError::Http {
                    url,
                    status,
                    hint: format!("unexpected status; {}", self.manual),
                })
            }
        }
        let cr = header(&f.resp, "content-range").unwrap_or_default();
        let Some((a, b, total)) = parse_content_range(&cr) else {
            return Err(self.bad(&url, format!("206 with an unusable Content-Range {cr:?}")));
        };
        if let Some(len) = header(&f.resp, "content-length") {
            if len.trim().parse::<u64>().ok() != Some(b - a + 1) {
                return Err(self.bad(
                    &url,
                    format!(
                        "Content-Length {len} does not match Content-Range {cr} ({} bytes)",
                        b - a + 1
                    ),
                ));
            }
        }
        Ok((a, b, total))
    }
}

impl HttpSource {
    /// Streams `expected` body bytes into `sink`, failing a response that trickles.
    fn stream_body(
        &self,
        resp: ureq::http::Response<ureq::Body>,
        url: &str,
        expected: u64,
        sink: Sink<'_>,
    ) -> Result<()> {
        let floor = self.floor;
        let mut window = (Instant::now(), 0u64);
        stream(resp, url, expected, &mut |chunk: &[u8]| {
            sink(chunk)?;
            window.1 += chunk.len() as u64;
            let elapsed = window.0.elapsed();
            if floor.min_bytes > 0 && elapsed >= floor.window {
                if window.1 < floor.min_bytes {
                    return Err(WeightsError::TooSlow {
                        url: url.to_string(),
                        bytes: window.1,
                        seconds: elapsed.as_secs_f64().round() as u64,
                        manual: self.manual.clone(),
                    });
                }
                window = (Instant::now(), 0);
            }
            Ok(())
        })
    }
}

fn stream(
    resp: ureq::http::Response<ureq::Body>,
    url: &str,
    expected: u64,
    sink: Sink<'_>,
) -> Result<()> {
    let mut reader = resp.into_body().into_reader();
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    let interrupted = |got: u64, reason: String| WeightsError::Interrupted {
        url: url.to_string(),
        received: got,
        expected,
        reason,
    };
    while got < expected {
        let want = (expected - got).min(CHUNK as u64) as usize;
        match reader.read(&mut buf[..want]) {
            Ok(0) => return Err(interrupted(got, "the connection closed early".into())),
            Ok(n) => {
                sink(&buf[..n])?;
                got += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(interrupted(got, e.to_string())),
        }
    }
    Ok(())
}

fn is_loopback(url: &str) -> bool {
    let Ok(uri) = url.parse::<ureq::http::Uri>() else {
        return false;
    };
    let host = uri.host().unwrap_or("").trim_matches(['[', ']']);
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn is_strong(etag: &str) -> bool {
    !etag.starts_with("W/")
}

impl RangeSource for HttpSource {
    fn describe(&self) -> String {
        self.url.clone()
    }

    fn probe(&mut self) -> Result<Probe> {
        let mut f = self.get(0, 7, None)?;
        let (a, b, total) = match self.expect_partial(&mut f, false) {
            Err(WeightsError::SourceChanged { url, .. }) => {
                // 416 on bytes 0-7: there is no byte 0.
                return Err(WeightsError::NotSafetensors {
                    file: url,
                    reason: "the server says the file is empty".into(),
                });
            }
            other => other?,
        };
        if a != 0 || b != 7.min(total - 1) {
            return Err(self.bad(&f.url, format!("asked for bytes 0-7, got {a}-{b}/{total}")));
        }
        let etag = header(&f.resp, "etag");
        let mut prefix = Vec::with_capacity(8);
        let url = f.url.clone();
        self.stream_body(f.resp, &url, b + 1, &mut |c: &[u8]| {
            prefix.extend_from_slice(c);
            Ok(())
        })?;
        let probe = Probe {
            total,
            // The hub's X-Linked-Etag names the content itself; the CDN's ETag is a fallback.
            validator: f.linked_etag.or_else(|| etag.clone()),
            revision: f.commit,
            prefix,
        };
        self.data_etag = etag;
        self.probe = Some(probe.clone());
        Ok(probe)
    }

    fn read_range(&mut self, start: u64, len: u64, sink: Sink<'_>) -> Result<()> {
        let Some(probe) = self.probe.clone() else {
            return Err(self.bad(&self.url, "internal error: read before probe"));
        };
        let if_range = self.data_etag.clone().filter(|e| is_strong(e));
        let last = start + len - 1;
        let mut f = self.get(start, last, if_range.as_deref())?;
        let (a, b, total) = self.expect_partial(&mut f, if_range.is_some())?;
        let changed = |detail: String| WeightsError::SourceChanged {
            url: f.url.clone(),
            detail,
        };
        if total != probe.total {
            return Err(changed(format!(
                "its size went from {} to {total} bytes",
                probe.total
            )));
        }
        if let (Some(old), Some(new)) = (&self.data_etag, header(&f.resp, "etag")) {
            if *old != new {
                return Err(changed(format!("ETag {old} became {new}")));
            }
        }
        if (a, b) != (start, last) {
            return Err(self.bad(
                &f.url,
                format!("asked for bytes {start}-{last}, the Content-Range says {a}-{b}/{total}"),
            ));
        }
        let url = f.url.clone();
        self.stream_body(f.resp, &url, len, sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve() {
        let base = "https://huggingface.co/timm/x/resolve/main/model.safetensors?a=1";
        assert_eq!(
            resolve_location(base, "https://cdn.example/a"),
            "https://cdn.example/a"
        );
        assert_eq!(resolve_location(base, "//cdn/b"), "https://cdn/b");
        assert_eq!(
            resolve_location(base, "/api/c"),
            "https://huggingface.co/api/c"
        );
        assert_eq!(
            resolve_location(base, "other"),
            "https://huggingface.co/timm/x/resolve/main/other"
        );
    }

    #[test]
    fn origins_compare_host_and_port() {
        assert_eq!(
            origin("https://HuggingFace.co/x"),
            Some("https://huggingface.co:443".into())
        );
        assert_ne!(origin("http://127.0.0.1:8/"), origin("http://localhost:8/"));
        assert!(is_loopback("http://127.0.0.1:8") && is_loopback("http://LOCALHOST/"));
        assert!(is_loopback("http://[::1]:9/") && !is_loopback("https://huggingface.co"));
        assert_eq!(origin("http://a:80/x"), origin("http://a/y"));
    }

    #[test]
    fn content_range() {
        assert_eq!(parse_content_range("bytes 0-7/100"), Some((0, 7, 100)));
        assert_eq!(parse_content_range("bytes 5-4/100"), None);
        assert_eq!(parse_content_range("bytes 0-100/100"), None);
        assert_eq!(parse_content_range("bytes */100"), None);
    }
}
