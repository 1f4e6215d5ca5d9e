//! Test helpers: safetensors fixtures with real VGG shapes, and a tiny hub-like HTTP server.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use atelier::engine::arch::Arch;

// ---------------------------------------------------------------- fixtures

/// A tensor to put in a fixture; `data: None` leaves zeros (written sparsely on disk).
#[derive(Clone)]
pub struct T {
    pub name: String,
    pub dtype: &'static str,
    pub shape: Vec<usize>,
    pub data: Option<Arc<Vec<u8>>>,
}

impl T {
    pub fn new(name: &str, dtype: &'static str, shape: &[usize]) -> Self {
        T {
            name: name.into(),
            dtype,
            shape: shape.to_vec(),
            data: None,
        }
    }
    pub fn len(&self) -> usize {
        let elem = match self.dtype {
            "F32" => 4,
            "F16" | "BF16" => 2,
            "F64" => 8,
            "I64" => 8,
            _ => 1,
        };
        self.shape.iter().product::<usize>() * elem
    }
}

/// Header bytes (length prefix + padded JSON) for tensors laid out in the given order.
pub fn header_bytes(tensors: &[T], metadata: &[(&str, &str)]) -> Vec<u8> {
    let mut map = serde_json::Map::new();
    if !metadata.is_empty() {
        let m: BTreeMap<&str, &str> = metadata.iter().copied().collect();
        map.insert("__metadata__".into(), serde_json::json!(m));
    }
    let mut off = 0usize;
    for t in tensors {
        map.insert(
            t.name.clone(),
            serde_json::json!({"dtype": t.dtype, "shape": t.shape, "data_offsets": [off, off + t.len()]}),
        );
        off += t.len();
    }
    let mut json = serde_json::Value::Object(map).to_string().into_bytes();
    while !json.len().is_multiple_of(8) {
        json.push(b' ');
    }
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend(json);
    out
}

/// A whole safetensors file in memory.
pub fn build(tensors: &[T], metadata: &[(&str, &str)]) -> Vec<u8> {
    let mut out = header_bytes(tensors, metadata);
    for t in tensors {
        match &t.data {
            Some(d) => {
                assert_eq!(d.len(), t.len(), "{}", t.name);
                out.extend_from_slice(d);
            }
            None => out.resize(out.len() + t.len(), 0),
        }
    }
    out
}

/// Writes a safetensors file; tensors without data become holes (cheap, and zeros are valid).
pub fn write_sparse(path: &Path, tensors: &[T], metadata: &[(&str, &str)]) {
    let header = header_bytes(tensors, metadata);
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(&header).unwrap();
    let mut off = header.len() as u64;
    for t in tensors {
        if let Some(d) = &t.data {
            f.seek(SeekFrom::Start(off)).unwrap();
            f.write_all(d).unwrap();
        }
        off += t.len() as u64;
    }
    f.set_len(off).unwrap();
}

/// `features.*` tensors of a VGG in layer order (weight, bias), without data.
pub fn vgg_features(arch: Arch, dtype: &'static str) -> Vec<T> {
    arch.conv_shapes()
        .into_iter()
        .flat_map(|(i, out, inp)| {
            [
                T::new(&format!("features.{i}.weight"), dtype, &[out, inp, 3, 3]),
                T::new(&format!("features.{i}.bias"), dtype, &[out]),
            ]
        })
        .collect()
}

/// Deterministic small values, different per seed and tensor.
pub fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.1
        })
        .collect()
}

pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Features with data, F32 or F16.
pub fn vgg_with_data(arch: Arch, dtype: &'static str, seed: u64) -> Vec<T> {
    vgg_features(arch, dtype)
        .into_iter()
        .enumerate()
        .map(|(k, mut t)| {
            let n = t.shape.iter().product();
            let v = values(seed * 1000 + k as u64, n);
            let bytes = match dtype {
                "F16" => v
                    .iter()
                    .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
                    .collect(),
                _ => f32_bytes(&v),
            };
            t.data = Some(Arc::new(bytes));
            t
        })
        .collect()
}

/// A timm-like full file: features with a large classifier tensor *between* them (so the
/// download must skip a gap) and the head after them. The classifier is all NaN bytes: if it
/// were downloaded and converted, the test would notice.
pub fn hub_layout(arch: Arch, dtype: &'static str, seed: u64) -> Vec<T> {
    let feats = vgg_with_data(arch, dtype, seed);
    let split = feats.len() / 2;
    let mut filler = T::new("pre_logits.fc1.weight", "F32", &[4096, 512, 1, 5]);
    filler.data = Some(Arc::new(vec![0xFF; filler.len()]));
    let mut head = T::new("head.fc.weight", "F32", &[1000, 4096]);
    head.data = Some(Arc::new(f32_bytes(&values(seed + 7, 1000 * 4096))));
    let mut bias = T::new("head.fc.bias", "F32", &[1000]);
    bias.data = Some(Arc::new(vec![0; 4000]));
    let mut all = feats[..split].to_vec();
    all.push(filler);
    all.extend_from_slice(&feats[split..]);
    all.push(head);
    all.push(bias);
    all
}

/// The VGG19 hub file for `seed`, built once per test process.
pub fn hub_file(seed: u64) -> Arc<Vec<u8>> {
    static FILES: OnceLock<Mutex<BTreeMap<u64, Arc<Vec<u8>>>>> = OnceLock::new();
    let files = FILES.get_or_init(Default::default);
    let mut m = files.lock().unwrap();
    m.entry(seed)
        .or_insert_with(|| {
            Arc::new(build(
                &hub_layout(Arch::Vgg19, "F32", seed),
                &[("format", "pt")],
            ))
        })
        .clone()
}

/// Header length and features byte count of a safetensors buffer.
pub fn sizes(file: &[u8]) -> (u64, u64) {
    let st = safetensors::SafeTensors::deserialize(file).unwrap();
    let n = u64::from_le_bytes(file[..8].try_into().unwrap());
    let feats = st
        .tensors()
        .iter()
        .filter(|(n, _)| n.starts_with("features."))
        .map(|(_, t)| t.data().len() as u64)
        .sum();
    (8 + n, feats)
}

/// Asserts `out` is a features-only F32 file whose tensors equal the source's features.
pub fn assert_features_equal(out: &Path, source: &[u8]) {
    let out_bytes = std::fs::read(out).unwrap();
    let o =
        safetensors::SafeTensors::deserialize(&out_bytes).expect("output loads with safetensors");
    let s = safetensors::SafeTensors::deserialize(source).unwrap();
    let mut src_names: Vec<String> = s
        .names()
        .into_iter()
        .filter(|n| n.starts_with("features."))
        .map(str::to_string)
        .collect();
    let mut out_names: Vec<String> = o.names().into_iter().map(str::to_string).collect();
    src_names.sort();
    out_names.sort();
    assert_eq!(
        out_names, src_names,
        "output holds exactly the features tensors"
    );
    for name in &src_names {
        let (a, b) = (o.tensor(name).unwrap(), s.tensor(name).unwrap());
        assert_eq!(a.dtype(), safetensors::Dtype::F32, "{name}");
        assert_eq!(a.shape(), b.shape(), "{name}");
        let expect: Vec<u8> = match b.dtype() {
            safetensors::Dtype::F16 => b
                .data()
                .chunks_exact(2)
                .flat_map(|c| {
                    half::f16::from_le_bytes([c[0], c[1]])
                        .to_f32()
                        .to_le_bytes()
                })
                .collect(),
            _ => b.data().to_vec(),
        };
        assert!(a.data() == expect.as_slice(), "{name}: data differs");
    }
}

pub fn metadata(path: &Path) -> BTreeMap<String, String> {
    let bytes = std::fs::read(path).unwrap();
    let (_, m) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    m.metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect()
}

// ---------------------------------------------------------------- server

/// One version of the hub file.
#[derive(Clone)]
pub struct Served {
    pub data: Arc<Vec<u8>>,
    pub etag: String,
    pub commit: String,
}

#[derive(Clone, Default)]
pub enum Redirect {
    /// 302 to `http://<host>:<port>/cdn/…` (absolute, so `localhost` is another "host").
    #[default]
    Cdn127,
    CdnLocalhost,
    /// 302 with a relative Location on the same host.
    Relative,
    /// Serve the bytes at the resolve URL itself.
    None,
}

#[derive(Clone, Default)]
pub struct Behaviour {
    pub redirect: Redirect,
    /// Cut bodies longer than `.0` bytes after `.0` bytes, `.1` times.
    pub drop_after: Option<(u64, u32)>,
    /// Content-Length (and body) half of what Content-Range claims, for bodies over 1 MB.
    pub short_body: bool,
    /// Content-Range shifted by 4 bytes, for bodies over 1 MB.
    pub shift_content_range: bool,
    /// 200 text/html for everything.
    pub html: bool,
    /// Ignore Range: 200 with the whole file.
    pub ignore_range: bool,
    /// Never answer (closes after a few seconds).
    pub hang: bool,
    /// Pause this long after every 64 KB of a file body (a slow connection). Read before each
    /// chunk, so changing it affects responses already under way.
    pub chunk_delay: Option<Duration>,
    /// Send bodies over 64 KB one byte per this interval, for as long as the client listens
    /// (a server that never stalls long enough for a read timeout, yet never finishes).
    pub trickle: Option<Duration>,
    /// Require this bearer token at the resolve URL.
    pub require_token: Option<String>,
    /// After this many data requests, serve another version.
    pub switch_after: Option<(usize, Served)>,
}

#[derive(Clone, Debug)]
pub struct LogEntry {
    pub path: String,
    pub host: String,
    pub range: Option<String>,
    pub if_range: Option<String>,
    pub auth: Option<String>,
    pub status: u16,
    pub body_bytes: u64,
}

struct State {
    served: Served,
    behaviour: Behaviour,
    data_requests: usize,
    log: Vec<LogEntry>,
}

pub struct Server {
    pub port: u16,
    state: Arc<Mutex<State>>,
    /// Connections being served; log readers wait for 0 so a response still being written
    /// (e.g. to a client that went away) is not counted in the next step of a test.
    active: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

pub const RESOLVE: &str = "/timm/vgg19.tv_in1k/resolve/main/model.safetensors";

impl Server {
    pub fn start(served: Served) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            served,
            behaviour: Behaviour::default(),
            data_requests: 0,
            log: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let active = Arc::new(AtomicUsize::new(0));
        let (st, sp, act) = (state.clone(), stop.clone(), active.clone());
        let handle = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (st, act) = (st.clone(), act.clone());
                act.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    handle(conn, port, &st);
                    act.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Server {
            port,
            state,
            active,
            stop,
            handle: Some(handle),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn behave(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut self.state.lock().unwrap().behaviour);
    }

    pub fn serve(&self, served: Served) {
        self.state.lock().unwrap().served = served;
    }

    fn settle(&self) {
        let until = std::time::Instant::now() + Duration::from_secs(15);
        while self.active.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn log(&self) -> Vec<LogEntry> {
        self.settle();
        self.state.lock().unwrap().log.clone()
    }

    pub fn take_log(&self) -> Vec<LogEntry> {
        self.settle();
        std::mem::take(&mut self.state.lock().unwrap().log)
    }

    pub fn bytes_sent(log: &[LogEntry]) -> u64 {
        log.iter().map(|e| e.body_bytes).sum()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn handle(mut conn: TcpStream, port: u16, state: &Mutex<State>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = conn.set_write_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 65536 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_string();
    let mut headers = BTreeMap::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut entry = LogEntry {
        path: path.clone(),
        host: headers.get("host").cloned().unwrap_or_default(),
        range: headers.get("range").cloned(),
        if_range: headers.get("if-range").cloned(),
        auth: headers.get("authorization").cloned(),
        status: 0,
        body_bytes: 0,
    };

    let (behaviour, mut served) = {
        let s = state.lock().unwrap();
        (s.behaviour.clone(), s.served.clone())
    };
    if behaviour.hang {
        std::thread::sleep(Duration::from_secs(3));
        return;
    }
    let is_resolve = path == RESOLVE;
    let is_cdn = path.starts_with("/cdn/");
    if behaviour.html && (is_resolve || is_cdn) {
        let body = b"<!DOCTYPE html><html><body>Please log in</body></html>";
        entry.status = 200;
        entry.body_bytes = respond(
            &mut conn,
            "200 OK",
            &[("Content-Type", "text/html")],
            body,
            None,
        );
        state.lock().unwrap().log.push(entry);
        return;
    }
    if is_resolve {
        if let Some(tok) = &behaviour.require_token {
            if entry.auth.as_deref() != Some(&format!("Bearer {tok}")) {
                entry.status = 401;
                respond(&mut conn, "401 Unauthorized", &[], b"", None);
                state.lock().unwrap().log.push(entry);
                return;
            }
        }
    }
    let location = match behaviour.redirect {
        Redirect::Cdn127 => Some(format!(
            "http://127.0.0.1:{port}/cdn/vgg19/model.safetensors?sig=x"
        )),
        Redirect::CdnLocalhost => Some(format!(
            "http://localhost:{port}/cdn/vgg19/model.safetensors?sig=x"
        )),
        Redirect::Relative => Some("/cdn/vgg19/model.safetensors?sig=x".to_string()),
        Redirect::None => None,
    };
    if is_resolve {
        if let Some(loc) = location {
            entry.status = 302;
            respond(
                &mut conn,
                "302 Found",
                &[
                    ("Location", &loc),
                    ("X-Repo-Commit", &served.commit),
                    ("X-Linked-Etag", &served.etag),
                ],
                b"",
                None,
            );
            state.lock().unwrap().log.push(entry);
            return;
        }
    } else if !is_cdn {
        entry.status = 404;
        respond(&mut conn, "404 Not Found", &[], b"not found", None);
        state.lock().unwrap().log.push(entry);
        return;
    }

    // Data request.
    let mut drop_at = None;
    {
        let mut s = state.lock().unwrap();
        s.data_requests += 1;
        if let Some((n, next)) = &s.behaviour.switch_after {
            if s.data_requests > *n {
                s.served = next.clone();
            }
        }
        served = s.served.clone();
        if let Some((k, times)) = s.behaviour.drop_after {
            let total = served.data.len() as u64;
            let wants = range_of(entry.range.as_deref(), total).map_or(total, |(a, b)| b - a + 1);
            if times > 0 && wants > k {
                drop_at = Some(k);
                s.behaviour.drop_after = Some((k, times - 1));
            }
        }
    }
    let data = &served.data;
    let total = data.len() as u64;
    let etag = served.etag.clone();
    let range = range_of(entry.range.as_deref(), total);
    let if_range_ok = entry.if_range.as_ref().is_none_or(|v| *v == etag);
    let extra_commit = [("X-Repo-Commit", served.commit.as_str())];
    let extra: &[(&str, &str)] = if is_resolve { &extra_commit } else { &[] };
    match range {
        Some((a, b)) if !behaviour.ignore_range && if_range_ok => {
            if a >= total {
                entry.status = 416;
                respond(&mut conn, "416 Range Not Satisfiable", &[], b"", None);
            } else {
                let body = &data[a as usize..=b as usize];
                let big = body.len() > 1_000_000;
                let body = if behaviour.short_body && big {
                    &body[..body.len() / 2]
                } else {
                    body
                };
                let shift = if behaviour.shift_content_range && big {
                    4
                } else {
                    0
                };
                let cr = format!("bytes {}-{}/{total}", a + shift, b + shift);
                let mut hs = vec![
                    ("Content-Range", cr.as_str()),
                    ("ETag", etag.as_str()),
                    ("Content-Type", "application/octet-stream"),
                ];
                hs.extend_from_slice(extra);
                entry.status = 206;
                if let Some(every) = behaviour.trickle.filter(|_| body.len() > 64 * 1024) {
                    entry.body_bytes =
                        respond_trickle(&mut conn, "206 Partial Content", &hs, body, every);
                    state.lock().unwrap().log.push(entry);
                    return;
                }
                entry.body_bytes = respond_slowly(
                    &mut conn,
                    "206 Partial Content",
                    &hs,
                    body,
                    drop_at,
                    &|| state.lock().unwrap().behaviour.chunk_delay,
                );
            }
        }
        _ => {
            let mut hs = vec![
                ("ETag", etag.as_str()),
                ("Content-Type", "application/octet-stream"),
            ];
            hs.extend_from_slice(extra);
            entry.status = 200;
            entry.body_bytes = respond_slowly(&mut conn, "200 OK", &hs, data, drop_at, &|| {
                state.lock().unwrap().behaviour.chunk_delay
            });
        }
    }
    state.lock().unwrap().log.push(entry);
}

/// `bytes=a-b` / `bytes=a-` → inclusive range clamped to the file.
fn range_of(h: Option<&str>, total: u64) -> Option<(u64, u64)> {
    let spec = h?.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let a: u64 = a.parse().ok()?;
    let b: u64 = if b.is_empty() {
        total.saturating_sub(1)
    } else {
        b.parse().ok()?
    };
    Some((a, b.min(total.saturating_sub(1))))
}

/// Writes a response and returns the body bytes actually sent; `cut` closes the connection early.
fn respond(
    conn: &mut TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    cut: Option<u64>,
) -> u64 {
    respond_slowly(conn, status, headers, body, cut, &|| None)
}

/// The status line and headers of a `Connection: close` response; `extra` is more header lines.
/// False when the client has gone.
fn write_head(
    conn: &mut TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    len: usize,
    extra: &str,
) -> bool {
    let mut head =
        format!("HTTP/1.1 {status}\r\nContent-Length: {len}\r\nConnection: close\r\n{extra}");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).is_ok()
}

/// `respond`, pausing `delay` after each 64 KB chunk of the body.
fn respond_slowly(
    conn: &mut TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    cut: Option<u64>,
    delay: &dyn Fn() -> Option<Duration>,
) -> u64 {
    if !write_head(
        conn,
        status,
        headers,
        body.len(),
        "Accept-Ranges: bytes\r\n",
    ) {
        return 0;
    }
    let limit = cut.map_or(body.len(), |c| (c as usize).min(body.len()));
    let mut sent = 0u64;
    for chunk in body[..limit].chunks(64 * 1024) {
        if conn.write_all(chunk).is_err() {
            break;
        }
        sent += chunk.len() as u64;
        if let Some(d) = delay() {
            std::thread::sleep(d);
        }
    }
    let _ = conn.flush();
    let _ = conn.shutdown(Shutdown::Write);
    sent
}

/// Writes the head, then the body one byte per `every` until it is sent or the client leaves.
fn respond_trickle(
    conn: &mut TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    every: Duration,
) -> u64 {
    if !write_head(conn, status, headers, body.len(), "") {
        return 0;
    }
    let mut sent = 0u64;
    for b in body {
        if conn.write_all(std::slice::from_ref(b)).is_err() || conn.flush().is_err() {
            break;
        }
        sent += 1;
        std::thread::sleep(every);
    }
    sent
}

/// A size from this process's `/proc/self/status` in MiB: `VmRSS` (resident now) or `VmHWM`
/// (the peak so far).
pub fn status_mib(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /proc/self/status"));
    kib / 1024.0
}

/// A port where nothing listens.
pub fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A VGG16-shaped features file with small deterministic random values, written once per test
/// binary: real layer shapes, so the engine's loader accepts it, and no download needed.
pub fn test_vgg16_file() -> std::path::PathBuf {
    static PATH: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("atelier-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("tiny-vgg16.safetensors");
        let bytes = build(
            &vgg_with_data(Arch::Vgg16, "F32", 7),
            &[("arch", "vgg16"), ("preprocess", "caffe")],
        );
        std::fs::write(&path, bytes).expect("write test weights");
        path
    })
    .clone()
}
pub mod studio;
