//! `cargo xtask bench`: the mock's speed and memory, measured beside a minimal server.
//!
//! Both servers are release builds started as their own processes (`event-mock` and the
//! `baseline` example of the mock crate, a fixed-body hyper server), so their CPU time and
//! resident memory can be read from `/proc`. Cells are interleaved (every cell once per
//! round, several rounds) and the median is reported, so the machine's drift falls on all
//! cells alike; ratios are to the baseline of the same run. It is a benchmark: slowness never
//! fails it, only a server that does not start or answers with the wrong status does.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Seconds-long run with small sizes on the debug build (what .ci/run does, so the tool
    /// cannot rot; its figures mean nothing).
    #[arg(long)]
    quick: bool,
    /// Where to write the report (default: docs/PERFORMANCE.md, or under target/ with --quick).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Another `event-mock` binary (e.g. a release build of an earlier commit) measured in the
    /// same run, interleaved, for a before/after comparison: its rows are marked [before].
    #[arg(long)]
    before: Option<PathBuf>,
    /// Only the load cells whose label contains this text (and the baseline), nothing else;
    /// for profiling one path (e.g. a cell's label beside `perf record`). Written under
    /// target/ unless --out says otherwise.
    #[arg(long)]
    only: Option<String>,
}

/// Sizes of a run.
struct Plan {
    rounds: usize,
    cell: Duration,
    warmup: Duration,
    idle_requests: usize,
    stored_events: usize,
    query_events: usize,
    cold_starts: usize,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Plan {
                rounds: 1,
                cell: Duration::from_millis(400),
                warmup: Duration::from_millis(100),
                idle_requests: 5_000,
                stored_events: 5_000,
                query_events: 20_000,
                cold_starts: 2,
            }
        } else {
            Plan {
                rounds: 3,
                cell: Duration::from_secs(3),
                warmup: Duration::from_millis(500),
                idle_requests: 1_000_000,
                stored_events: 100_000,
                query_events: 1_000_000,
                cold_starts: 5,
            }
        }
    }
}

/// A server process under test.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(binary: &Path, args: &[&str], port: u16) -> Result<Self> {
        let mut command = Command::new(binary);
        command
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Utime + stime, in seconds.
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the command name (which may hold spaces) start at ") ".
        let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // utime and stime are fields 14 and 15 of stat; 12 and 13 after the name and state.
        // SAFETY: sysconf only reads a configuration value.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        (ticks(11) + ticks(12)) / per_second.max(1.0)
    }

    /// Resident memory in bytes.
    fn rss(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// One request a cell sends, as an API's `specs/<api>/bench.json` writes it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
struct RequestRecipe {
    #[serde(default = "get")]
    method: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    basic: Option<(String, String)>,
    #[serde(default)]
    json: Option<Value>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default = "ok")]
    status: u16,
    /// For a login: the response header that carries the token.
    #[serde(default)]
    token_header: Option<String>,
}

fn get() -> String {
    "GET".into()
}

fn ok() -> u16 {
    200
}

#[derive(Debug, Clone, serde::Deserialize)]
struct CellRecipe {
    label: String,
    #[serde(default)]
    write: bool,
    #[serde(flatten)]
    request: RequestRecipe,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct QueryRecipe {
    label: String,
    path: String,
}

/// The store an API offers for the memory and query figures.
#[derive(Debug, Clone, serde::Deserialize)]
struct StoreRecipe {
    /// The label of the cell whose writes are stored.
    write: String,
    seed_path: String,
    seed_batch: usize,
    seed_event: Value,
    read: RequestRecipe,
    queries: Vec<QueryRecipe>,
}

/// The write whose stored events the memory figures are taken on (resident memory per stored
/// event, and after a reset).
#[derive(Debug, Clone, serde::Deserialize)]
struct MemoryRecipe {
    /// What the rows and targets call the API.
    label: String,
    /// The label of the cell whose writes are stored (each request stores one event).
    write: String,
}

/// `specs/<api>/bench.json`: what the bench sends to that API. The bench names no API itself.
#[derive(Debug, Clone, serde::Deserialize)]
struct ApiRecipe {
    #[serde(default)]
    login: Option<RequestRecipe>,
    cells: Vec<CellRecipe>,
    #[serde(default)]
    memory: Option<MemoryRecipe>,
    #[serde(default)]
    store: Option<StoreRecipe>,
}

/// Every cell: the baseline, the mock's health check, then each API's recipes.
struct Cells {
    specs: Vec<(String, bool, Option<usize>, RequestRecipe)>,
    logins: Vec<Option<RequestRecipe>>,
    /// Every API's memory recipe (its `memory`, else its `store`'s write), in folder order.
    memory: Vec<MemoryRecipe>,
    store: Option<StoreRecipe>,
}

static CELLS: std::sync::OnceLock<Cells> = std::sync::OnceLock::new();

fn cells() -> &'static Cells {
    CELLS.get().expect("the cells are loaded first")
}

/// Read every `specs/*/bench.json`, in folder order.
fn load_cells(root: &Path) -> Result<()> {
    let mut specs = vec![
        (
            "baseline: hyper, fixed body".to_owned(),
            false,
            None,
            RequestRecipe {
                method: "GET".into(),
                path: "/".into(),
                status: 200,
                ..Default::default()
            },
        ),
        (
            "mock GET /__admin/health".to_owned(),
            false,
            None,
            RequestRecipe {
                method: "GET".into(),
                path: "/__admin/health".into(),
                status: 200,
                ..Default::default()
            },
        ),
    ];
    let mut logins = Vec::new();
    let mut memory = Vec::new();
    let mut store = None;
    let mut folders: Vec<PathBuf> = std::fs::read_dir(root.join("specs"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("bench.json").is_file())
        .collect();
    folders.sort();
    for folder in folders {
        let file = folder.join("bench.json");
        let recipe: ApiRecipe = serde_json::from_str(&std::fs::read_to_string(&file)?)
            .with_context(|| format!("{}", file.display()))?;
        let api = logins.len();
        logins.push(recipe.login);
        let named_store = recipe.store.as_ref().map(|s| s.write.clone());
        match (recipe.memory, named_store) {
            (Some(recipe), _) => memory.push(recipe),
            (None, Some(write)) => memory.push(MemoryRecipe {
                label: write.clone(),
                write,
            }),
            (None, None) => {}
        }
        for cell in recipe.cells {
            specs.push((cell.label, cell.write, Some(api), cell.request));
        }
        if recipe.store.is_some() {
            store = recipe.store;
        }
    }
    let _ = CELLS.set(Cells {
        specs,
        logins,
        memory,
        store,
    });
    Ok(())
}

/// A cell: an index into [`Cells::specs`].
#[derive(Clone, Copy, PartialEq, Eq)]
struct Cell(usize);

impl Cell {
    const BASELINE: Cell = Cell(0);
    const HEALTH: Cell = Cell(1);

    fn all() -> Vec<Cell> {
        (0..cells().specs.len()).map(Cell).collect()
    }

    fn label(self) -> &'static str {
        &cells().specs[self.0].0
    }

    fn is_write(self) -> bool {
        cells().specs[self.0].1
    }

    fn by_label(label: &str) -> Option<Cell> {
        cells().specs.iter().position(|s| s.0 == label).map(Cell)
    }
}

/// A session token where the cell's API logs in (per client).
async fn session(http: &reqwest::Client, base: &str, cell: Cell) -> Result<Option<String>> {
    let Some(api) = cells().specs[cell.0].2 else {
        return Ok(None);
    };
    let Some(login) = &cells().logins[api] else {
        return Ok(None);
    };
    let resp = build(http, base, login, 0, None).send().await?;
    let header = login
        .token_header
        .as_deref()
        .context("a login names its token_header")?;
    Ok(Some(
        resp.headers()
            .get(header)
            .with_context(|| format!("the login gave no {header}"))?
            .to_str()?
            .to_owned(),
    ))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `{{i}}`, `{{i%N}}`, `{{i%N+K}}` (`:W` pads with zeros to W digits), `{{token}}`, `{{now_ms}}`.
fn expand(expr: &str, i: u64, token: Option<&str>) -> Option<String> {
    match expr {
        "token" => return Some(token.unwrap_or_default().to_owned()),
        "now_ms" => return Some(now_ms().to_string()),
        _ => {}
    }
    let (expr, width) = match expr.split_once(':') {
        Some((e, w)) => (e, w.parse::<usize>().ok()?),
        None => (expr, 0),
    };
    let rest = expr.strip_prefix('i')?;
    let (modulo, add) = match rest.strip_prefix('%') {
        Some(r) => match r.split_once('+') {
            Some((m, k)) => (m.parse::<u64>().ok()?, k.parse::<u64>().ok()?),
            None => (r.parse::<u64>().ok()?, 0),
        },
        None if rest.is_empty() => (0, 0),
        None => return None,
    };
    let value = if modulo > 0 { i % modulo } else { i } + add;
    Some(format!("{value:0width$}"))
}

/// Fill the templates of a text.
fn fill(text: &str, i: u64, token: Option<&str>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        match after.find("}}") {
            Some(close) => {
                match expand(&after[..close], i, token) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&rest[open..open + 2 + close + 2]),
                }
                rest = &after[close + 2..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Fill a JSON body: a string that is one whole template becomes a number when it is one.
fn fill_json(value: &Value, i: u64, token: Option<&str>) -> Value {
    match value {
        Value::String(s) => {
            let filled = fill(s, i, token);
            let whole = s.starts_with("{{") && s.ends_with("}}") && s.matches("{{").count() == 1;
            match filled.parse::<i64>() {
                Ok(n) if whole => json!(n),
                _ => Value::String(filled),
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| fill_json(v, i, token)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill_json(v, i, token)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A recipe as a reqwest request (built, not sent, for the raw client).
fn build(
    http: &reqwest::Client,
    base: &str,
    recipe: &RequestRecipe,
    i: u64,
    token: Option<&str>,
) -> reqwest::RequestBuilder {
    let method =
        reqwest::Method::from_bytes(recipe.method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut req = http.request(method, format!("{base}{}", fill(&recipe.path, i, token)));
    for (name, value) in &recipe.headers {
        req = req.header(name, fill(value, i, token));
    }
    if let Some((user, password)) = &recipe.basic {
        req = req.basic_auth(user, Some(password));
    }
    if let Some(json) = &recipe.json {
        req = req.json(&fill_json(json, i, token));
    }
    if let Some(body) = &recipe.body {
        req = req.body(fill(body, i, token));
    }
    req
}

/// The cell's request number `i`, and the status it must get.
fn request(
    http: &reqwest::Client,
    base: &str,
    cell: Cell,
    token: Option<&str>,
    i: u64,
) -> (reqwest::RequestBuilder, u16) {
    let recipe = &cells().specs[cell.0].3;
    (build(http, base, recipe, i, token), recipe.status)
}

/// A request (built, not sent, by reqwest) as the bytes a raw connection writes.
fn render(host: &str, request: &reqwest::Request) -> Vec<u8> {
    let url = request.url();
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let body = request
        .body()
        .and_then(|b| b.as_bytes())
        .unwrap_or_default();
    let mut head = format!(
        "{} {target} HTTP/1.1\r\nhost: {}\r\n",
        request.method(),
        host
    );
    for (name, value) in request.headers() {
        let _ = write!(head, "{name}: {}\r\n", value.to_str().unwrap_or_default());
    }
    let _ = write!(head, "content-length: {}\r\n\r\n", body.len());
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A minimal HTTP/1.1 keep-alive connection for the measured loop: a request's bytes out, the
/// status line, headers and `Content-Length` body in. Far cheaper than a full client, which
/// matters when the load shares two cores with the server under test.
struct RawConnection {
    stream: tokio::io::BufReader<tokio::net::TcpStream>,
    host: String,
    /// The last answer's body (read and dropped; kept to reuse its allocation).
    body: Vec<u8>,
}

impl RawConnection {
    async fn open(base: &str) -> Result<Self> {
        let host = base.trim_start_matches("http://").to_owned();
        let stream = tokio::net::TcpStream::connect(&host).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: tokio::io::BufReader::new(stream),
            host,
            body: Vec::new(),
        })
    }

    /// Send a rendered request and return the answer's status.
    async fn send(&mut self, bytes: &[u8]) -> Result<u16> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        self.stream.get_mut().write_all(bytes).await?;
        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("status line")?;
        let mut length = 0usize;
        loop {
            line.clear();
            if self.stream.read_line(&mut line).await? == 0 {
                bail!("connection closed");
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    bail!("chunked answers are not read by the bench client");
                }
            }
        }
        self.body.resize(length, 0);
        self.stream.read_exact(&mut self.body).await?;
        Ok(status)
    }
}

/// How many distinct requests each load connection renders and cycles through.
const REQUEST_RING: usize = 256;

/// One measurement of a cell at a connection count.
#[derive(Clone, Copy, Default)]
struct Sample {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    cpu_us: f64,
    /// The load client's own CPU per request (it shares the cores with the server).
    client_cpu_us: f64,
    rss: u64,
    errors: u64,
}

/// Load `server` with `connections` clients for `duration` (after a warm-up).
async fn load(
    server: &Server,
    cell: Cell,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<Sample> {
    let base = server.url.clone();
    let host = base.trim_start_matches("http://").to_owned();
    // Sessions first, then each connection's requests rendered before any window, so the load
    // client spends the same few microseconds per request on every cell (a ring of distinct
    // requests, cycled); then a warm-up, then the measured window.
    let mut rings = Vec::new();
    for c in 0..connections {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .http1_only()
            .build()?;
        let token = session(&http, &base, cell).await?;
        let first = (c as u64) << 32;
        let mut ring = Vec::with_capacity(REQUEST_RING);
        for i in first..first + REQUEST_RING as u64 {
            let (req, want) = request(&http, &base, cell, token.as_deref(), i);
            ring.push((render(&host, &req.build()?), want));
        }
        rings.push(std::sync::Arc::new(ring));
    }
    let run = |window: Duration| {
        let base = base.clone();
        let rings = rings.clone();
        async move {
            let deadline = Instant::now() + window;
            let mut tasks = Vec::new();
            for ring in rings {
                let base = base.clone();
                tasks.push(tokio::spawn(async move {
                    let mut latencies: Vec<u32> = Vec::new();
                    let mut errors = 0u64;
                    let mut connection = RawConnection::open(&base).await.ok();
                    for (bytes, want) in ring.iter().cycle() {
                        if Instant::now() >= deadline {
                            break;
                        }
                        let started = Instant::now();
                        let status = match connection.as_mut() {
                            Some(conn) => conn.send(bytes).await.ok(),
                            None => None,
                        };
                        latencies.push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        if status != Some(*want) {
                            errors += 1;
                            // A broken connection is replaced, as a client would.
                            if status.is_none() {
                                connection = RawConnection::open(&base).await.ok();
                            }
                        }
                    }
                    (latencies, errors)
                }));
            }
            let mut all = Vec::new();
            let mut errors = 0;
            for task in tasks {
                let (l, e) = task.await.expect("load client");
                all.extend(l);
                errors += e;
            }
            (all, errors)
        }
    };
    run(warmup).await;
    let cpu_before = server.cpu_seconds();
    let client_before = own_cpu_seconds();
    let started = Instant::now();
    let (mut latencies, errors) = run(duration).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu_before;
    let client_cpu = own_cpu_seconds() - client_before;
    latencies.sort_unstable();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0) as f64
    };
    let n = latencies.len().max(1) as f64;
    Ok(Sample {
        rps: latencies.len() as f64 / elapsed,
        p50_us: pick(0.50),
        p99_us: pick(0.99),
        cpu_us: cpu * 1e6 / n,
        client_cpu_us: client_cpu * 1e6 / n,
        rss: server.rss(),
        errors,
    })
}

/// This process's user+system CPU time, in seconds (the load client's cost).
fn own_cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given and reads nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

struct Binaries {
    mock: PathBuf,
    baseline: PathBuf,
    before: Option<PathBuf>,
}

/// Release builds; `--quick` (CI, where only the tool's health matters, not its figures)
/// reuses the debug build the tests made.
fn build_binaries(root: &Path, release: bool) -> Result<Binaries> {
    let mut args = vec![
        "build",
        "-p",
        "event-mock",
        "--bin",
        "event-mock",
        "--example",
        "baseline",
    ];
    if release {
        args.push("--release");
    }
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .args(&args)
        .status()
        .context("cargo build")?;
    if !status.success() {
        bail!("the release build failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let profile = if release { "release" } else { "debug" };
    Ok(Binaries {
        mock: target.join(profile).join("event-mock"),
        baseline: target.join(profile).join("examples/baseline"),
        before: None,
    })
}

/// Start a fresh server for `cell` (the `before` binary if asked) and wait until it answers.
async fn start_of(bins: &Binaries, cell: Cell, before: bool) -> Result<(Server, Duration)> {
    let port = free_port()?;
    let port_text = port.to_string();
    let started = Instant::now();
    let mock = match (&bins.before, before) {
        (Some(path), true) => path,
        _ => &bins.mock,
    };
    let server = if cell == Cell::BASELINE {
        Server::start(&bins.baseline, &[&port_text], port)?
    } else {
        // Store limits above the largest seeding (1,000,000 events), so the figures show
        // the stores' cost, not the budget's refusals.
        Server::start(
            mock,
            &[
                "--port",
                &port_text,
                "--store-max-items",
                "2000000",
                "--store-max-bytes",
                "17179869184",
            ],
            port,
        )?
    };
    let probe = if cell == Cell::BASELINE {
        format!("{}/", server.url)
    } else {
        format!("{}/__admin/health", server.url)
    };
    let http = reqwest::Client::new();
    loop {
        if let Ok(resp) = http.get(&probe).send().await {
            if resp.status().is_success() {
                return Ok((server, started.elapsed()));
            }
        }
        if started.elapsed() > Duration::from_secs(20) {
            bail!("{} did not start", cell.label());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Post `count` requests of `cell` at 32 connections (no timing).
async fn start(bins: &Binaries, cell: Cell) -> Result<(Server, Duration)> {
    start_of(bins, cell, false).await
}

async fn drive(server: &Server, cell: Cell, count: usize) -> Result<u64> {
    let connections = 32usize;
    let per = count.div_ceil(connections);
    let mut tasks = Vec::new();
    for c in 0..connections {
        let base = server.url.clone();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let token = session(&http, &base, cell).await.ok().flatten();
            let mut errors = 0u64;
            let Ok(mut connection) = RawConnection::open(&base).await else {
                return per as u64;
            };
            for i in 0..per {
                let (req, want) =
                    request(&http, &base, cell, token.as_deref(), (c * per + i) as u64);
                let status = match req.build() {
                    Ok(req) => connection.send(&render(&connection.host, &req)).await.ok(),
                    Err(_) => None,
                };
                if status != Some(want) {
                    errors += 1;
                }
            }
            errors
        }));
    }
    let mut errors = 0;
    for t in tasks {
        errors += t.await.expect("driver");
    }
    Ok(errors)
}

/// Seed `count` events of the store recipe through the control plane, in batches.
async fn seed(server: &Server, store: &StoreRecipe, count: usize) -> Result<()> {
    let http = reqwest::Client::new();
    let mut done = 0;
    while done < count {
        let n = store.seed_batch.min(count - done);
        let events: Vec<Value> = (done..done + n)
            .map(|i| fill_json(&store.seed_event, i as u64, None))
            .collect();
        let resp = http
            .post(format!("{}{}", server.url, store.seed_path))
            .json(&events)
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("seeding failed: {}", resp.text().await.unwrap_or_default());
        }
        done += n;
    }
    Ok(())
}

/// The query's median wall time over three runs, in ms.
async fn time_query(server: &Server, store: &StoreRecipe, path: &str) -> Result<f64> {
    let http = reqwest::Client::new();
    let recipe = RequestRecipe {
        path: path.to_owned(),
        ..store.read.clone()
    };
    let mut times = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let resp = build(&http, &server.url, &recipe, 0, None).send().await?;
        let status = resp.status();
        let _ = resp.bytes().await;
        if status.as_u16() != recipe.status {
            bail!("query {path} answered {status}");
        }
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    Ok(median(times))
}

pub fn run(args: BenchArgs) -> Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace root")?
        .to_path_buf();
    let mut bins = build_binaries(&root, !args.quick)?;
    bins.before = args.before.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let plan = Plan::new(args.quick);
    load_cells(&root)?;
    let report = runtime.block_on(measure(&bins, &plan, &root, args.only.as_deref()))?;
    let out = args.out.unwrap_or_else(|| {
        if args.quick || args.only.is_some() {
            root.join("target/bench/PERFORMANCE.md")
        } else {
            root.join("docs/PERFORMANCE.md")
        }
    });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut command = "cargo xtask bench".to_owned();
    if args.quick {
        command.push_str(" --quick");
    }
    if let Some(text) = &args.only {
        let _ = write!(command, " --only {text:?}");
    }
    std::fs::write(&out, report.markdown(&command))?;
    println!("{}", report.table());
    println!("written: {}", out.display());
    if report.errors > 0 {
        bail!("{} requests got an unexpected status", report.errors);
    }
    Ok(())
}

/// Resident memory of one API's server around `stored_events` stored events and a reset.
struct MemorySample {
    label: String,
    before_store: u64,
    stored: u64,
    after_reset: u64,
    per_event_bytes: f64,
}

#[derive(Default)]
struct Report {
    /// Only some load cells were measured (`--only`): no other figure, no targets.
    partial: bool,
    /// (cell, whether the [before] binary, connections) -> median sample.
    cells: Vec<(Cell, bool, usize, Sample)>,
    cold_baseline_ms: f64,
    /// Spawn to the health check's answer.
    cold_mock_ms: f64,
    /// Spawn to each API's first answered write (a login first, where the API has one).
    cold_writes: Vec<(Cell, f64)>,
    idle_rss: u64,
    idle_requests: usize,
    stored_events: usize,
    /// Per API with a memory recipe: its stored events' figures.
    memory: Vec<MemorySample>,
    query_events: usize,
    queries: Vec<(String, f64)>,
    conformance_s: Option<f64>,
    errors: u64,
}

async fn measure(bins: &Binaries, plan: &Plan, root: &Path, only: Option<&str>) -> Result<Report> {
    let mut samples: Vec<(Cell, bool, usize, Vec<Sample>)> = Vec::new();
    let chosen =
        |c: &Cell| only.is_none_or(|text| *c == Cell::BASELINE || c.label().contains(text));
    let mut units: Vec<(Cell, bool)> = Cell::all()
        .into_iter()
        .filter(chosen)
        .map(|c| (c, false))
        .collect();
    if bins.before.is_some() {
        // The earlier binary's health and writes, interleaved with today's.
        units.extend(
            Cell::all()
                .into_iter()
                .filter(|c| (c.is_write() || *c == Cell::HEALTH) && chosen(c))
                .map(|c| (c, true)),
        );
    }
    for round in 0..plan.rounds {
        for connections in [1usize, 32] {
            for &(cell, before) in &units {
                let (server, _) = start_of(bins, cell, before).await?;
                let sample = load(&server, cell, connections, plan.warmup, plan.cell).await?;
                eprintln!(
                    "round {} {:>2} conn. {:<36}{} {:>9.0} req/s p99 {:>6.0} µs",
                    round + 1,
                    connections,
                    cell.label(),
                    if before { " [before]" } else { "" },
                    sample.rps,
                    sample.p99_us
                );
                match samples
                    .iter_mut()
                    .find(|(c, b, n, _)| *c == cell && *b == before && *n == connections)
                {
                    Some((_, _, _, list)) => list.push(sample),
                    None => samples.push((cell, before, connections, vec![sample])),
                }
            }
        }
    }
    let mut errors = 0;
    let measured: Vec<(Cell, bool, usize, Sample)> = samples
        .into_iter()
        .map(|(cell, before, n, list)| {
            errors += list.iter().map(|s| s.errors).sum::<u64>();
            let m = |f: fn(&Sample) -> f64| median(list.iter().map(f).collect());
            let sample = Sample {
                rps: m(|s| s.rps),
                p50_us: m(|s| s.p50_us),
                p99_us: m(|s| s.p99_us),
                cpu_us: m(|s| s.cpu_us),
                client_cpu_us: m(|s| s.client_cpu_us),
                rss: m(|s| s.rss as f64) as u64,
                errors: list.iter().map(|s| s.errors).sum(),
            };
            (cell, before, n, sample)
        })
        .collect();

    if only.is_some() {
        return Ok(Report {
            cells: measured,
            errors,
            partial: true,
            ..Report::default()
        });
    }

    // Cold start: spawn to the first answer, interleaved.
    // For the mock, to its health check and to each API's first answered write (after the
    // login a client needs first, where the API has one): the issue's "first answered POST".
    let writes: Vec<Cell> = Cell::all().into_iter().filter(|c| c.is_write()).collect();
    let (mut cold_b, mut cold_m) = (Vec::new(), Vec::new());
    let mut cold_w: Vec<Vec<f64>> = vec![Vec::new(); writes.len()];
    let http = reqwest::Client::new();
    for _ in 0..plan.cold_starts {
        cold_b.push(start(bins, Cell::BASELINE).await?.1.as_secs_f64() * 1e3);
        cold_m.push(start(bins, Cell::HEALTH).await?.1.as_secs_f64() * 1e3);
        for (i, &write) in writes.iter().enumerate() {
            let (server, up) = start(bins, write).await?;
            let asked = Instant::now();
            let token = session(&http, &server.url, write).await?;
            let (req, want) = request(&http, &server.url, write, token.as_deref(), 0);
            let status = req.send().await?.status().as_u16();
            let took = up + asked.elapsed();
            if status != want {
                errors += 1;
            }
            cold_w[i].push(took.as_secs_f64() * 1e3);
        }
    }
    let cold_writes: Vec<(Cell, f64)> = writes
        .into_iter()
        .zip(cold_w)
        .map(|(cell, times)| (cell, median(times)))
        .collect();

    // Memory: requests that store nothing, then stored events and a reset.
    let (server, _) = start(bins, Cell::HEALTH).await?;
    errors += drive(&server, Cell::HEALTH, plan.idle_requests).await?;
    let idle_rss = server.rss();
    drop(server);
    // Memory per stored event, and after a reset, on every API whose recipe names its write.
    if cells().memory.is_empty() {
        bail!("no specs/*/bench.json names a memory (or store) write");
    }
    let mut memory = Vec::new();
    for recipe in &cells().memory {
        let write = Cell::by_label(&recipe.write)
            .with_context(|| format!("{}: no cell labelled {:?}", recipe.label, recipe.write))?;
        let (server, _) = start(bins, write).await?;
        let before_store = server.rss();
        errors += drive(&server, write, plan.stored_events).await?;
        let stored = server.rss();
        let reset = reqwest::Client::new()
            .post(format!("{}/__admin/reset", server.url))
            .json(&json!({}))
            .send()
            .await?;
        if !reset.status().is_success() {
            bail!("{}: the reset answered {}", recipe.label, reset.status());
        }
        let after_reset = server.rss();
        drop(server);
        let per_event_bytes =
            stored.saturating_sub(before_store) as f64 / plan.stored_events.max(1) as f64;
        eprintln!(
            "memory {:<20} {per_event_bytes:>6.0} bytes per stored event, {} after a reset",
            recipe.label,
            mib(after_reset)
        );
        memory.push(MemorySample {
            label: recipe.label.clone(),
            before_store,
            stored,
            after_reset,
            per_event_bytes,
        });
    }

    // The queries over a large store, on the API whose recipe names one.
    let store = cells()
        .store
        .as_ref()
        .context("no specs/*/bench.json declares a store")?;
    let write = Cell::by_label(&store.write).context("the store's write cell")?;
    let (server, _) = start(bins, write).await?;
    seed(&server, store, plan.query_events).await?;
    let mut queries = Vec::new();
    for query in &store.queries {
        queries.push((
            query.label.clone(),
            time_query(&server, store, &query.path).await?,
        ));
    }
    drop(server);

    // The conformance suite, warm (full mode only: it builds and runs the debug xtask).
    let conformance_s = if plan.rounds > 1 {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        // Warm it first, then time it.
        let run = || {
            Command::new(&cargo)
                .current_dir(root)
                .args(["xtask", "conformance"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
        };
        run()?;
        let started = Instant::now();
        run()?;
        Some(started.elapsed().as_secs_f64())
    } else {
        None
    };

    Ok(Report {
        cells: measured,
        cold_baseline_ms: median(cold_b),
        cold_mock_ms: median(cold_m),
        cold_writes,
        idle_rss,
        idle_requests: plan.idle_requests,
        stored_events: plan.stored_events,
        memory,
        query_events: plan.query_events,
        queries,
        conformance_s,
        errors,
        partial: false,
    })
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

impl Report {
    fn baseline(&self, connections: usize) -> f64 {
        self.cells
            .iter()
            .find(|(c, _, n, _)| *c == Cell::BASELINE && *n == connections)
            .map(|(_, _, _, s)| s.rps)
            .unwrap_or(1.0)
    }

    fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| what | conn. | req/s | of baseline | p50 | p99 | server CPU/request | client CPU/request | RSS | errors |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (cell, before, n, s) in &self.cells {
            let _ = writeln!(
                out,
                "| {}{} | {n} | {:.0} | {:.0}% | {:.2} ms | {:.2} ms | {:.1} µs | {:.1} µs | {} | {} |",
                cell.label(),
                if *before { " [before]" } else { "" },
                s.rps,
                100.0 * s.rps / self.baseline(*n),
                s.p50_us / 1e3,
                s.p99_us / 1e3,
                s.cpu_us,
                s.client_cpu_us,
                mib(s.rss),
                s.errors
            );
        }
        if self.partial {
            return out;
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| other | figure |\n|---|---:|\n| cold start, baseline (to its first answer) | {:.1} ms |\n| cold start, mock, to its health check | {:.1} ms ({:.2}x) |",
            self.cold_baseline_ms,
            self.cold_mock_ms,
            self.cold_mock_ms / self.cold_baseline_ms.max(0.001)
        );
        for (cell, ms) in &self.cold_writes {
            let _ = writeln!(
                out,
                "| cold start, mock, to the first answered {} | {ms:.1} ms ({:.2}x) |",
                cell.label(),
                ms / self.cold_baseline_ms.max(0.001)
            );
        }
        let _ = writeln!(
            out,
            "| resident after {} requests that store nothing | {} |",
            self.idle_requests,
            mib(self.idle_rss)
        );
        for m in &self.memory {
            let _ = writeln!(
                out,
                "| {}: resident per stored event ({} stored: {} before, {} after), then after POST /__admin/reset | {:.0} bytes; {} |",
                m.label,
                self.stored_events,
                mib(m.before_store),
                mib(m.stored),
                m.per_event_bytes,
                mib(m.after_reset)
            );
        }
        for (label, ms) in &self.queries {
            let _ = writeln!(
                out,
                "| {label}, over {} stored events | {ms:.1} ms |",
                self.query_events
            );
        }
        if let Some(s) = self.conformance_s {
            let _ = writeln!(out, "| cargo xtask conformance, warm | {s:.1} s |");
        }
        out
    }

    fn targets(&self) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        for (cell, _, n, s) in self
            .cells
            .iter()
            .filter(|(c, before, _, _)| c.is_write() && !before)
        {
            let ratio = s.rps / self.baseline(*n);
            let p99_limit = if *n == 1 { 0.5 } else { 2.0 };
            out.push((
                format!(
                    "{} at {n} conn.: >= 60% of baseline ({:.0}%), p99 < {p99_limit} ms ({:.2} ms)",
                    cell.label(),
                    ratio * 100.0,
                    s.p99_us / 1e3
                ),
                ratio >= 0.6 && s.p99_us / 1e3 < p99_limit,
            ));
        }
        for m in &self.memory {
            out.push((
                format!(
                    "{}: <= 1 KiB resident per stored event ({:.0} bytes)",
                    m.label, m.per_event_bytes
                ),
                m.per_event_bytes <= 1024.0,
            ));
            out.push((
                format!(
                    "{}: a reset returns the memory ({} -> {}, {} before storing)",
                    m.label,
                    mib(m.stored),
                    mib(m.after_reset),
                    mib(m.before_store)
                ),
                m.after_reset <= m.before_store + m.stored.saturating_sub(m.before_store) / 4,
            ));
        }
        out.push((
            format!(
                "{} non-storing requests stay under 64 MiB ({})",
                self.idle_requests,
                mib(self.idle_rss)
            ),
            self.idle_rss < 64 << 20,
        ));
        for (label, ms) in &self.queries {
            out.push((
                format!(
                    "{label}, over {} events, under 200 ms ({ms:.1} ms)",
                    self.query_events
                ),
                *ms < 200.0,
            ));
        }
        out.push((
            format!(
                "cold start within 1.5x of the baseline, to the health check ({:.2}x)",
                self.cold_mock_ms / self.cold_baseline_ms.max(0.001)
            ),
            self.cold_mock_ms <= 1.5 * self.cold_baseline_ms,
        ));
        for (cell, ms) in &self.cold_writes {
            out.push((
                format!(
                    "cold start within 1.5x of the baseline, to the first answered {} ({:.2}x)",
                    cell.label(),
                    ms / self.cold_baseline_ms.max(0.001)
                ),
                *ms <= 1.5 * self.cold_baseline_ms,
            ));
        }
        if let Some(s) = self.conformance_s {
            out.push((
                format!("conformance suite under 3 s warm ({s:.1} s)"),
                s < 3.0,
            ));
        }
        out
    }

    fn markdown(&self, command: &str) -> String {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("model name"))
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0);
        let kernel = Command::new("uname")
            .arg("-r")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let commit = Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let builds = if command.contains("--quick") {
            "debug builds (quick mode: the tool's own check, the figures mean nothing)"
        } else {
            "release builds"
        };
        let mut out = String::new();
        let _ = writeln!(out, "# Performance\n");
        let _ = writeln!(
            out,
            "Measured by `{command}` at commit {commit}: {builds} of `event-mock` and of a minimal hyper \
             server with a fixed body (the baseline, `mock/examples/baseline.rs`), each its own process on \
             loopback, loaded by minimal HTTP/1.1 keep-alive clients of the bench's own, which share the cores \
             with the server. Cells are interleaved, a fresh server each; the figures are medians of the \
             rounds. Server CPU per request is the server process's user+system time over the requests \
             answered. Machine: {cpu}, {cores} cores, Linux {kernel}.\n"
        );
        out.push_str(&self.table());
        if self.partial {
            return out;
        }
        let _ = writeln!(out, "\n## Targets (issue 10)\n");
        let _ = writeln!(
            out,
            "What the profile shows for the targets missed, what was tried and the before/after \
             comparisons: [performance-notes.md](performance-notes.md).\n"
        );
        for (text, met) in self.targets() {
            let _ = writeln!(out, "- {} {text}", if met { "met:" } else { "MISSED:" });
        }
        out
    }
}
