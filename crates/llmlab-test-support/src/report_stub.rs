//! A stand-in for OpenAI's and Anthropic's admin report APIs (usage and cost
//! reports), on a local port: the documented page shapes, pagination by
//! cursor, the providers' auth headers (401 otherwise), and scripted faults
//! (a 429 with `retry-after`, a 500 on a given page). Each report is either
//! fixed pages (hand-written fixtures, served in their `next_page` order
//! whatever the range) or generated daily buckets (served for the range
//! asked, a few buckets a page).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::Timestamp;
use serde_json::{Value, json};

/// One of the four reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StubReport {
    OpenAiUsage,
    OpenAiCosts,
    AnthropicUsage,
    AnthropicCosts,
}

impl StubReport {
    fn is_openai(self) -> bool {
        matches!(self, StubReport::OpenAiUsage | StubReport::OpenAiCosts)
    }
}

/// One day's results of a generated report.
#[derive(Clone, Debug)]
pub struct StubBucket {
    /// UTC midnight, Unix seconds.
    pub start: i64,
    pub results: Vec<Value>,
}

/// What a report serves.
#[derive(Clone, Debug)]
pub enum StubPages {
    /// Whole page bodies, chained by their `next_page` cursors.
    Fixed(Vec<String>),
    /// Daily buckets, `per_page` a page, filtered by the range asked.
    Generated { buckets: Vec<StubBucket>, per_page: usize },
}

/// A scripted answer instead of a page: the `nth` request (from 1) to a report.
#[derive(Clone, Debug)]
pub struct Fault {
    pub report: StubReport,
    pub nth: usize,
    pub status: u16,
    pub retry_after: Option<u32>,
}

#[derive(Default)]
struct StubState {
    pages: HashMap<StubReport, StubPages>,
    faults: Vec<Fault>,
    requests: HashMap<StubReport, usize>,
    log: Vec<String>,
    openai_key: String,
    anthropic_key: String,
}

/// The stub server; stops when dropped.
pub struct ReportStub {
    pub base_url: String,
    state: Arc<Mutex<StubState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ReportStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ReportStub {
    /// Starts a stub accepting these admin keys.
    pub async fn start(openai_key: &str, anthropic_key: &str) -> ReportStub {
        let state = Arc::new(Mutex::new(StubState {
            openai_key: openai_key.to_owned(),
            anthropic_key: anthropic_key.to_owned(),
            ..StubState::default()
        }));
        let app = Router::new()
            .route("/v1/organization/usage/completions", get(openai_usage))
            .route("/v1/organization/costs", get(openai_costs))
            .route("/v1/organizations/usage_report/messages", get(anthropic_usage))
            .route("/v1/organizations/cost_report", get(anthropic_costs))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("a free port");
        let address = listener.local_addr().expect("a bound address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ReportStub { base_url: format!("http://{address}"), state, task }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, StubState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets what `report` serves.
    pub fn serve(&self, report: StubReport, pages: StubPages) {
        self.state().pages.insert(report, pages);
    }

    /// Accepts these admin keys from now on (the earlier ones are refused, as a revoked key is).
    pub fn set_keys(&self, openai_key: &str, anthropic_key: &str) {
        let mut state = self.state();
        openai_key.clone_into(&mut state.openai_key);
        anthropic_key.clone_into(&mut state.anthropic_key);
    }

    /// Answers one request with `fault` instead of a page.
    pub fn fault(&self, fault: Fault) {
        self.state().faults.push(fault);
    }

    /// The requests so far (`path?query`), oldest first.
    #[must_use]
    pub fn log(&self) -> Vec<String> {
        self.state().log.clone()
    }

    /// Requests so far to `report`.
    #[must_use]
    pub fn requests(&self, report: StubReport) -> usize {
        self.state().requests.get(&report).copied().unwrap_or(0)
    }
}

type Params = Query<Vec<(String, String)>>;

async fn openai_usage(State(s): State<Arc<Mutex<StubState>>>, h: HeaderMap, Query(q): Params) -> Response {
    answer(&s, &h, &q, StubReport::OpenAiUsage, "/v1/organization/usage/completions")
}
async fn openai_costs(State(s): State<Arc<Mutex<StubState>>>, h: HeaderMap, Query(q): Params) -> Response {
    answer(&s, &h, &q, StubReport::OpenAiCosts, "/v1/organization/costs")
}
async fn anthropic_usage(State(s): State<Arc<Mutex<StubState>>>, h: HeaderMap, Query(q): Params) -> Response {
    answer(&s, &h, &q, StubReport::AnthropicUsage, "/v1/organizations/usage_report/messages")
}
async fn anthropic_costs(State(s): State<Arc<Mutex<StubState>>>, h: HeaderMap, Query(q): Params) -> Response {
    answer(&s, &h, &q, StubReport::AnthropicCosts, "/v1/organizations/cost_report")
}

fn param<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"type": "error", "message": message}}))).into_response()
}

fn answer(
    state: &Mutex<StubState>,
    headers: &HeaderMap,
    query: &[(String, String)],
    report: StubReport,
    path: &str,
) -> Response {
    let mut s = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let text: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    s.log.push(format!("{path}?{}", text.join("&")));
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let authorized = if report.is_openai() {
        header("authorization") == format!("Bearer {}", s.openai_key)
    } else {
        header("x-api-key") == s.anthropic_key && header("anthropic-version") == "2023-06-01"
    };
    if !authorized {
        return error(StatusCode::UNAUTHORIZED, "invalid x-api-key or bearer token");
    }
    let nth = {
        let count = s.requests.entry(report).or_default();
        *count += 1;
        *count
    };
    if let Some(at) = s.faults.iter().position(|f| f.report == report && f.nth == nth) {
        let fault = s.faults.remove(at);
        let mut response =
            error(StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), "stub fault");
        if let Some(wait) = fault.retry_after {
            response.headers_mut().insert("retry-after", wait.into());
        }
        return response;
    }
    let cursor = param(query, "page");
    match s.pages.get(&report) {
        Some(StubPages::Fixed(bodies)) => fixed_page(bodies, cursor),
        Some(StubPages::Generated { buckets, per_page }) => generated_page(report, buckets, *per_page, query, cursor),
        None => generated_page(report, &[], 1, query, cursor),
    }
}

fn fixed_page(bodies: &[String], cursor: Option<&str>) -> Response {
    let index = match cursor {
        None => Some(0),
        Some(cursor) => bodies
            .iter()
            .position(|b| {
                serde_json::from_str::<Value>(b).ok().is_some_and(|v| v["next_page"].as_str() == Some(cursor))
            })
            .map(|i| i + 1),
    };
    match index.and_then(|i| bodies.get(i)) {
        Some(body) => ([("content-type", "application/json")], body.clone()).into_response(),
        None => error(StatusCode::BAD_REQUEST, "unknown page cursor"),
    }
}

/// The range asked, in Unix seconds: OpenAI's `start_time`/`end_time`, Anthropic's `starting_at`/`ending_at`.
fn range(report: StubReport, query: &[(String, String)]) -> (i64, i64) {
    if report.is_openai() {
        let at = |name| param(query, name).and_then(|v| v.parse().ok());
        (at("start_time").unwrap_or(0), at("end_time").unwrap_or(i64::MAX))
    } else {
        let at = |name| param(query, name).and_then(|v| v.parse::<Timestamp>().ok()).map(Timestamp::as_second);
        (at("starting_at").unwrap_or(0), at("ending_at").unwrap_or(i64::MAX))
    }
}

fn generated_page(
    report: StubReport,
    buckets: &[StubBucket],
    per_page: usize,
    query: &[(String, String)],
    cursor: Option<&str>,
) -> Response {
    let (from, until) = range(report, query);
    let in_range: Vec<&StubBucket> = buckets.iter().filter(|b| b.start >= from && b.start < until).collect();
    let offset: usize = cursor.and_then(|c| c.strip_prefix("page_")).and_then(|n| n.parse().ok()).unwrap_or(0);
    let end = (offset + per_page.max(1)).min(in_range.len());
    let data: Vec<Value> =
        in_range.get(offset..end).unwrap_or_default().iter().map(|b| bucket_json(report, b)).collect();
    let has_more = end < in_range.len();
    let next_page = has_more.then(|| format!("page_{end}"));
    let mut page = json!({"data": data, "has_more": has_more, "next_page": next_page});
    if report.is_openai() {
        page["object"] = json!("page");
    }
    axum::Json(page).into_response()
}

fn bucket_json(report: StubReport, bucket: &StubBucket) -> Value {
    let end = bucket.start + 86_400;
    if report.is_openai() {
        json!({"object": "bucket", "start_time": bucket.start, "end_time": end, "results": bucket.results})
    } else {
        let rfc = |s: i64| Timestamp::from_second(s).map(|t| t.to_string()).unwrap_or_default();
        json!({"starting_at": rfc(bucket.start), "ending_at": rfc(end), "results": bucket.results})
    }
}

/// The admin keys the stub accepts in [`ReportStub::with_fixtures`].
pub const OPENAI_ADMIN_KEY: &str = "sk-admin-stub0000000000000000";
/// See [`OPENAI_ADMIN_KEY`].
pub const ANTHROPIC_ADMIN_KEY: &str = "sk-ant-admin01-stub00000000000000";

/// The hand-written pages of `fixtures/provider_reports/` (see its README for the expected figures).
#[must_use]
pub fn fixture_pages(name: &str) -> StubPages {
    let dir = crate::fixtures_dir().join("provider_reports");
    let page = |n: u32| {
        std::fs::read_to_string(dir.join(format!("{name}_{n}.json"))).expect("the provider report fixture exists")
    };
    StubPages::Fixed(vec![page(1), page(2)])
}

impl ReportStub {
    /// A stub serving the four fixture reports, accepting [`OPENAI_ADMIN_KEY`] and [`ANTHROPIC_ADMIN_KEY`].
    pub async fn with_fixtures() -> ReportStub {
        let stub = ReportStub::start(OPENAI_ADMIN_KEY, ANTHROPIC_ADMIN_KEY).await;
        stub.serve(StubReport::OpenAiUsage, fixture_pages("openai_usage"));
        stub.serve(StubReport::OpenAiCosts, fixture_pages("openai_costs"));
        stub.serve(StubReport::AnthropicUsage, fixture_pages("anthropic_usage"));
        stub.serve(StubReport::AnthropicCosts, fixture_pages("anthropic_costs"));
        stub
    }
}

/// One bucket per UTC day of the last `days` days (today included), oldest first, each with `results(day_index)`.
pub fn last_days(days: i64, results: impl Fn(i64) -> Vec<Value>) -> Vec<StubBucket> {
    let now = Timestamp::now().as_second();
    let today = now - now.rem_euclid(86_400);
    (0..days).map(|i| StubBucket { start: today - (days - 1 - i) * 86_400, results: results(i) }).collect()
}
