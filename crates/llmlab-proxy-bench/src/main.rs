//! Benchmark of the LLM proxy (issue #8): one fast local stub upstream hit
//! directly, and the same stub through `llmlab serve`'s proxy with cost
//! recording on, in one run:
//!
//! - (a) one request at a time on a kept-alive connection: latency p50/p99
//!   of both, and what the proxy adds;
//! - (b) 32 concurrent kept-alive connections: requests/s and p99 of both;
//! - (c) the proxy process's idle RSS and its peak RSS (`VmHWM`);
//!
//! and then checks that every proxied call was stored as an event.
//!
//! `cargo run --release -p llmlab-proxy-bench` builds the release `llmlab`
//! binary first (`cargo build --release -p llmlab-cli`) unless `--llmlab`
//! names one. The load generator is this binary: raw hyper HTTP/1.1
//! connections on one thread, so it costs as little CPU as possible on a
//! machine it shares with the stub and the proxy.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a benchmark's output is its report
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)] // statistics on counts

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// The stub's answer: a real OpenAI chat completion (priced $0.00002925).
const COMPLETION: &[u8] =
    include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/openai/chat_basic_gpt-4o-mini.body.json"));
const REQUEST: &[u8] =
    br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What is the capital of France?"}]}"#;

#[derive(Parser)]
#[command(about = "Benchmark the LLM proxy against a local stub upstream")]
struct Args {
    /// The `llmlab` binary to benchmark (default: build and use the release one)
    #[arg(long)]
    llmlab: Option<PathBuf>,
    /// Sequential requests per round in (a); five rounds alternate direct and proxied
    #[arg(long, default_value_t = 2000)]
    sequential: usize,
    /// Concurrent connections in (b)
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds of load per target in (b)
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Put a hard budget on the account (issue #15): every proxied call then holds its worst-case cost
    /// before it is forwarded, and its event releases the hold
    #[arg(long)]
    hard_budget: bool,
    /// The database the proxy uses (default: a fresh SQLite file), e.g. `postgres://postgres@127.0.0.1/bench`
    #[arg(long)]
    database_url: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let llmlab = match &args.llmlab {
        Some(path) => path.clone(),
        None => build_llmlab()?,
    };
    let stub = start_stub()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(run(&args, &llmlab, stub))
}

async fn run(args: &Args, llmlab: &Path, stub: SocketAddr) -> anyhow::Result<()> {
    let folder = tempfile::tempdir()?;
    let database =
        args.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", folder.path().join("bench.db").display()));
    let mut proxy = Proxy::start(llmlab, stub, &database)?;
    let key = signup(proxy.address).await?;
    if args.hard_budget {
        // Large enough never to refuse: every call is held and released, none refused.
        let budget = br#"{"amount_usd":"1000000","period":"month","hard":true}"#;
        api(proxy.address, "POST", "/api/budgets/scoped", Some(&key), Some(budget)).await?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = proxy.memory("VmRSS")?;

    let direct = Target { address: stub, path: "/v1/chat/completions", key: None };
    let proxied = Target { address: proxy.address, path: "/proxy/openai/v1/chat/completions", key: Some(key.clone()) };
    let mut proxied_calls = 0u64;

    // Warm up both paths (connection pools, caches, the recorder task).
    one_at_a_time(&direct, 500).await?;
    one_at_a_time(&proxied, 500).await?;
    proxied_calls += 500;

    // (a) Rounds alternate so drift on the shared machine hits both alike.
    let (mut direct_a, mut proxied_a) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        direct_a.extend(one_at_a_time(&direct, args.sequential).await?);
        proxied_a.extend(one_at_a_time(&proxied, args.sequential).await?);
        proxied_calls += args.sequential as u64;
    }
    let direct_a = Stats::of(direct_a, Duration::ZERO);
    let proxied_a = Stats::of(proxied_a, Duration::ZERO);

    // (b)
    let duration = Duration::from_secs_f64(args.seconds);
    let own_before = cpu_time(std::process::id())?;
    let (direct_b, direct_elapsed) = concurrent(&direct, args.connections, duration).await?;
    let own_direct = cpu_time(std::process::id())?.saturating_sub(own_before);
    let direct_b = Stats::of(direct_b, direct_elapsed);
    let (own_before, proxy_before) = (cpu_time(std::process::id())?, cpu_time(proxy.child.id())?);
    let (proxied_b, proxied_elapsed) = concurrent(&proxied, args.connections, duration).await?;
    let own_proxied = cpu_time(std::process::id())?.saturating_sub(own_before);
    proxied_calls += proxied_b.len() as u64;
    let proxied_b = Stats::of(proxied_b, proxied_elapsed);

    // Every call must become an event.
    let load_end = Instant::now();
    let recorded = wait_for_events(proxy.address, &key, proxied_calls).await?;
    let drain = load_end.elapsed();
    // The proxy's CPU for the proxied load, its recording included (the
    // recorder has caught up by now, so every event's cost is in).
    let proxy_cpu = cpu_time(proxy.child.id())?.saturating_sub(proxy_before);
    let peak_rss = proxy.memory("VmHWM")?;
    let after_rss = proxy.memory("VmRSS")?;
    proxy.stop();

    let backend = if database.starts_with("postgres") { "PostgreSQL" } else { "SQLite" };
    let budget = if args.hard_budget { "a hard budget on: each call held, then settled" } else { "no hard budget" };
    println!(
        "\nLLM proxy benchmark: stub upstream direct vs through `llmlab serve` (cost recording on, {backend}, {budget})"
    );
    println!("machine: {} cores; load generator: 1 thread, HTTP/1.1 keep-alive\n", num_cores());
    println!("(a) one request at a time, kept-alive connection, {} requests each", direct_a.count);
    println!("    direct   p50 {:>8.3} ms   p99 {:>8.3} ms", ms(direct_a.p50), ms(direct_a.p99));
    println!("    proxied  p50 {:>8.3} ms   p99 {:>8.3} ms", ms(proxied_a.p50), ms(proxied_a.p99));
    println!(
        "    added    p50 {:>8.3} ms   p99 {:>8.3} ms   (goal: p50 <= 0.25 ms)",
        ms(proxied_a.p50.saturating_sub(direct_a.p50)),
        ms(proxied_a.p99.saturating_sub(direct_a.p99))
    );
    println!("(b) {} concurrent connections, {:.0} s each", args.connections, args.seconds);
    println!(
        "    direct   {:>9.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms",
        direct_b.rate,
        ms(direct_b.p50),
        ms(direct_b.p99)
    );
    println!(
        "    proxied  {:>9.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms   (goal: >= 15,000 req/s)",
        proxied_b.rate,
        ms(proxied_b.p50),
        ms(proxied_b.p99)
    );
    let per = |cpu: Duration, calls: usize| cpu.as_secs_f64() * 1e6 / calls.max(1) as f64;
    let (proxy_us, client_us) = (per(proxy_cpu, proxied_b.count), per(own_proxied, proxied_b.count));
    println!(
        "    CPU per request: proxy {proxy_us:.1} µs (recording included); load generator + stub {client_us:.1} µs \
         (direct: {:.1} µs)",
        per(own_direct, direct_b.count)
    );
    println!(
        "    the same work on {} otherwise idle cores: about {:.0} req/s proxied",
        num_cores(),
        num_cores() as f64 * 1e6 / (proxy_us + client_us)
    );
    println!("(c) proxy memory");
    println!("    idle RSS {:>6.1} MB   (goal: <= 30 MB)", mb(idle_rss));
    println!("    peak RSS {:>6.1} MB   after load {:.1} MB", mb(peak_rss), mb(after_rss));
    println!(
        "events: {recorded} of {proxied_calls} proxied calls recorded ({:.1} s after the load ended)",
        drain.as_secs_f64()
    );
    if recorded != proxied_calls {
        bail!("{} proxied calls were not recorded", proxied_calls - recorded);
    }
    Ok(())
}

/// Builds the release `llmlab` and returns its path.
fn build_llmlab() -> anyhow::Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building the release llmlab binary…");
    let status =
        Command::new(cargo).current_dir(&root).args(["build", "--release", "--quiet", "-p", "llmlab-cli"]).status()?;
    if !status.success() {
        bail!("`cargo build --release -p llmlab-cli` failed");
    }
    let exe = std::env::current_exe()?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    // Next to this binary when it was built in release mode, else the target folder's release build.
    let beside = exe.with_file_name("llmlab");
    Ok(if beside.exists() && exe.parent().is_some_and(|p| p.ends_with("release")) {
        beside
    } else {
        target.join("release").join("llmlab")
    })
}

/// The stub upstream: a minimal hyper HTTP/1.1 server on its own thread,
/// answering every request with [`COMPLETION`].
fn start_stub() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a listener");
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let _ = tcp.set_nodelay(true);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(|request: Request<Incoming>| async move {
                        let _ = request.into_body().collect().await;
                        let mut response = Response::new(Full::new(Bytes::from_static(COMPLETION)));
                        response.headers_mut().insert(
                            hyper::header::CONTENT_TYPE,
                            hyper::header::HeaderValue::from_static("application/json"),
                        );
                        Ok::<_, std::convert::Infallible>(response)
                    });
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service).await;
                });
            }
        });
    });
    Ok(address)
}

/// The `llmlab serve` process under test.
struct Proxy {
    child: Child,
    address: SocketAddr,
}

impl Proxy {
    fn start(llmlab: &Path, stub: SocketAddr, database: &str) -> anyhow::Result<Proxy> {
        let mut child = Command::new(llmlab)
            .args(["serve", "--host", "127.0.0.1", "--port", "0", "--database-url", database])
            .env("LLMLAB_UPSTREAM_OPENAI", format!("http://{stub}"))
            // The default log level, as a user runs it: request spans and all.
            .env("LLMLAB_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", llmlab.display()))?;
        let stderr = child.stderr.take().context("stderr is piped")?;
        let (found, ready) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(address) = line.split("running at http://").nth(1).and_then(|rest| rest.split('/').next())
                    && let Some(tx) = found.take()
                {
                    let _ = tx.send(address.to_owned());
                } else if found.is_some() || line.contains("ERROR") || line.contains("WARN") {
                    eprintln!("llmlab: {line}");
                }
            }
        });
        let address = ready.recv_timeout(Duration::from_secs(30)).context("llmlab serve did not start")?;
        Ok(Proxy { child, address: address.parse()? })
    }

    /// A memory figure from `/proc/<pid>/status`, in bytes.
    fn memory(&self, field: &str) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status.lines().find(|l| l.starts_with(field)).with_context(|| format!("no {field}"))?;
        let kb: u64 = line.split_whitespace().nth(1).context("a number")?.parse()?;
        Ok(kb * 1024)
    }

    fn stop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where requests go.
struct Target {
    address: SocketAddr,
    path: &'static str,
    key: Option<String>,
}

impl Target {
    fn request(&self) -> Request<Full<Bytes>> {
        let mut builder = Request::post(self.path)
            .header(hyper::header::HOST, self.address.to_string())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::AUTHORIZATION, "Bearer sk-bench-provider-key");
        if let Some(key) = &self.key {
            builder = builder.header("x-llmlab-key", key);
        }
        builder.body(Full::new(Bytes::from_static(REQUEST))).expect("a valid request")
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(address: SocketAddr) -> anyhow::Result<Sender> {
    let tcp = tokio::net::TcpStream::connect(address).await?;
    tcp.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// One request on `sender`; its latency.
async fn call(sender: &mut Sender, target: &Target) -> anyhow::Result<Duration> {
    let started = Instant::now();
    sender.ready().await?;
    let response = sender.send_request(target.request()).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    let elapsed = started.elapsed();
    if status != 200 || body.len() != COMPLETION.len() {
        bail!("unexpected answer {status} ({} bytes)", body.len());
    }
    Ok(elapsed)
}

async fn one_at_a_time(target: &Target, count: usize) -> anyhow::Result<Vec<Duration>> {
    let mut sender = connect(target.address).await?;
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        latencies.push(call(&mut sender, target).await?);
    }
    Ok(latencies)
}

/// `connections` closed loops for `duration`; every latency and the time taken.
async fn concurrent(
    target: &Target,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let started = Instant::now();
    let deadline = started + duration;
    let loops = (0..connections).map(|_| async {
        let mut sender = connect(target.address).await?;
        let mut latencies = Vec::new();
        while Instant::now() < deadline {
            latencies.push(call(&mut sender, target).await?);
        }
        anyhow::Ok(latencies)
    });
    let mut all = Vec::new();
    for result in futures_join_all(loops).await {
        all.extend(result?);
    }
    Ok((all, started.elapsed()))
}

/// Runs futures concurrently on this thread (a tiny `join_all`).
async fn futures_join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("every future finished")).collect()
}

/// A small JSON call to the LLMLab API.
async fn api(
    address: SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&'static [u8]>,
) -> anyhow::Result<Value> {
    let mut sender = connect(address).await?;
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, address.to_string())
        .header(hyper::header::CONTENT_TYPE, "application/json");
    if let Some(key) = key {
        builder = builder.header(hyper::header::AUTHORIZATION, format!("Bearer {key}"));
    }
    let body = match (method, body) {
        (_, Some(body)) => Bytes::from_static(body),
        ("POST", None) => Bytes::from_static(b"{}"),
        _ => Bytes::new(),
    };
    let response = sender.send_request(builder.body(Full::new(body))?).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        bail!("{method} {path}: {status} {}", String::from_utf8_lossy(&bytes));
    }
    Ok(serde_json::from_slice(&bytes)?)
}

async fn signup(address: SocketAddr) -> anyhow::Result<String> {
    let account = api(address, "POST", "/api/auth/signup", None, None).await?;
    Ok(account["api_key"].as_str().context("an api_key")?.to_owned())
}

/// Waits (up to 60 s) until `expected` events are stored; returns how many are.
async fn wait_for_events(address: SocketAddr, key: &str, expected: u64) -> anyhow::Result<u64> {
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let summary = api(address, "GET", "/api/costs/summary", Some(key), None).await?;
        let stored = summary["all_time_calls"].as_u64().context("all_time_calls")?;
        if stored >= expected || Instant::now() > deadline {
            return Ok(stored);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Stats {
    count: usize,
    p50: Duration,
    p99: Duration,
    rate: f64,
}

impl Stats {
    fn of(mut latencies: Vec<Duration>, elapsed: Duration) -> Stats {
        latencies.sort_unstable();
        let at = |q: f64| {
            let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
            latencies.get(index).copied().unwrap_or_default()
        };
        let rate = if elapsed.is_zero() { 0.0 } else { latencies.len() as f64 / elapsed.as_secs_f64() };
        Stats { count: latencies.len(), p50: at(0.50), p99: at(0.99), rate }
    }
}

/// CPU time (user + system) a process's threads have used so far, from
/// `/proc/<pid>/task/*/schedstat` (nanoseconds). Threads that already
/// ended are not counted; the server's live for its whole life.
fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = task?.path().join("schedstat");
        if let Ok(text) = std::fs::read_to_string(path) {
            total += text.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    Ok(Duration::from_nanos(total))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn num_cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}
