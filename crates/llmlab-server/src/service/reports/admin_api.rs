//! The HTTP side of the providers' report APIs: one page per request, the
//! admin key in the provider's header, `retry-after` honoured on 429. The
//! base URLs are the proxy's upstreams (`LLMLAB_UPSTREAM_OPENAI`,
//! `LLMLAB_UPSTREAM_ANTHROPIC`), so one setting points both at a gateway or
//! a test stub. The key is never logged nor put in an error.

use std::time::Duration;

use jiff::Timestamp;
use llmlab_core::provider_report::ReportProvider;

/// The longest `retry-after` honoured; a longer one ends the sync (the next resumes).
const MAX_RETRY_AFTER: Duration = Duration::from_mins(2);
/// 429s in a row before a page is given up.
const MAX_RATE_LIMITED: u32 = 5;
/// How long one page may take.
const PAGE_TIMEOUT: Duration = Duration::from_mins(1);
/// The wait when a 429 names none.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Which report of a provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    Usage,
    Cost,
}

/// Why a page could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum AdminApiError {
    #[error(
        "the {} admin key was refused ({status}): give an organization admin key (`{}…`), not a project or API key, \
         and check it was not revoked",
        provider.label(),
        provider.admin_key_prefix()
    )]
    KeyRefused { provider: ReportProvider, status: u16 },
    #[error("the {} {what} answered HTTP {status}{detail}", provider.label())]
    Status { provider: ReportProvider, what: &'static str, status: u16, detail: String },
    #[error("the {} {what} kept answering 429 (rate limited); the next sync resumes", provider.label())]
    RateLimited { provider: ReportProvider, what: &'static str },
    #[error("cannot reach the {} admin API at {base}: {detail}", provider.label())]
    Unreachable { provider: ReportProvider, base: String, detail: String },
}

impl AdminApiError {
    /// The stable code of the error (`admin_key_refused`, `report_failed`).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            AdminApiError::KeyRefused { .. } => "admin_key_refused",
            _ => "report_failed",
        }
    }
}

/// A client of one provider's report API with one admin key.
pub struct AdminApi<'k> {
    pub provider: ReportProvider,
    base: String,
    key: &'k str,
    http: reqwest::Client,
}

impl std::fmt::Debug for AdminApi<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AdminApi {{ provider: {}, base: {} }}", self.provider, self.base)
    }
}

impl<'k> AdminApi<'k> {
    #[must_use]
    pub fn new(provider: ReportProvider, base: &str, key: &'k str) -> AdminApi<'k> {
        let http = reqwest::Client::builder().timeout(PAGE_TIMEOUT).build().unwrap_or_default();
        AdminApi { provider, base: base.trim_end_matches('/').to_owned(), key, http }
    }

    fn what(report: Report) -> &'static str {
        match report {
            Report::Usage => "usage report",
            Report::Cost => "cost report",
        }
    }

    /// The URL of one page of `report` over `[from, until)` (UTC midnights).
    fn url(&self, report: Report, from: Timestamp, until: Timestamp, cursor: Option<&str>) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        let path = match (self.provider, report) {
            (ReportProvider::OpenAi, report) => {
                pairs.push(("start_time", from.as_second().to_string()));
                pairs.push(("end_time", until.as_second().to_string()));
                pairs.push(("bucket_width", "1d".to_owned()));
                let (groups, limit, path): (&[&str], &str, _) = match report {
                    Report::Usage => (
                        &["model", "project_id", "api_key_id", "batch", "service_tier"],
                        "31",
                        "/v1/organization/usage/completions",
                    ),
                    Report::Cost => (&["line_item", "project_id"], "180", "/v1/organization/costs"),
                };
                pairs.extend(groups.iter().map(|g| ("group_by", (*g).to_owned())));
                pairs.push(("limit", limit.to_owned()));
                path
            }
            (ReportProvider::Anthropic, report) => {
                pairs.push(("starting_at", from.to_string()));
                pairs.push(("ending_at", until.to_string()));
                pairs.push(("bucket_width", "1d".to_owned()));
                let (groups, path): (&[&str], _) = match report {
                    Report::Usage => (
                        &["model", "workspace_id", "api_key_id", "service_tier", "context_window"],
                        "/v1/organizations/usage_report/messages",
                    ),
                    Report::Cost => (&["workspace_id", "description"], "/v1/organizations/cost_report"),
                };
                pairs.extend(groups.iter().map(|g| ("group_by[]", (*g).to_owned())));
                pairs.push(("limit", "31".to_owned()));
                path
            }
        };
        if let Some(cursor) = cursor {
            pairs.push(("page", cursor.to_owned()));
        }
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base))
            .unwrap_or_else(|_| reqwest::Url::parse("http://invalid.invalid/").expect("a valid URL"));
        url.query_pairs_mut().extend_pairs(pairs);
        url.into()
    }

    /// Fetches one page's body, waiting out 429s as `retry-after` asks.
    pub async fn page(
        &self,
        report: Report,
        from: Timestamp,
        until: Timestamp,
        cursor: Option<&str>,
    ) -> Result<Vec<u8>, AdminApiError> {
        let url = self.url(report, from, until, cursor);
        let what = Self::what(report);
        for _ in 0..=MAX_RATE_LIMITED {
            let request = match self.provider {
                ReportProvider::OpenAi => self.http.get(&url).bearer_auth(self.key),
                ReportProvider::Anthropic => {
                    self.http.get(&url).header("x-api-key", self.key).header("anthropic-version", "2023-06-01")
                }
            };
            let response = request.send().await.map_err(|e| self.unreachable(e))?;
            let status = response.status().as_u16();
            match status {
                200..=299 => return Ok(response.bytes().await.map_err(|e| self.unreachable(e))?.to_vec()),
                401 | 403 => return Err(AdminApiError::KeyRefused { provider: self.provider, status }),
                429 => {
                    let wait = retry_after(response.headers()).unwrap_or(DEFAULT_RETRY_AFTER);
                    if wait > MAX_RETRY_AFTER {
                        break;
                    }
                    tracing::info!(provider = %self.provider, wait_ms = wait.as_millis(), "rate limited by the report API");
                    tokio::time::sleep(wait).await;
                }
                _ => {
                    let body = response.text().await.unwrap_or_default();
                    let detail = error_message(&body).map(|m| format!(": {m}")).unwrap_or_default();
                    return Err(AdminApiError::Status { provider: self.provider, what, status, detail });
                }
            }
        }
        Err(AdminApiError::RateLimited { provider: self.provider, what })
    }

    fn unreachable(&self, error: reqwest::Error) -> AdminApiError {
        // Without the URL: its query is harmless, but the error's text is enough.
        let detail = error.without_url().to_string();
        AdminApiError::Unreachable { provider: self.provider, base: self.base.clone(), detail }
    }
}

/// `retry-after` in seconds (the report APIs send seconds).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let text = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    text.trim().parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
}

/// The `error.message` of a provider's error body, shortened.
fn error_message(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let message = value["error"]["message"].as_str()?;
    Some(message.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_ask_for_daily_buckets_grouped_by_the_report_keys() {
        let api = AdminApi::new(ReportProvider::OpenAi, "http://stub/", "sk-admin-x");
        let from: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
        let until: Timestamp = "2026-11-03T00:00:00Z".parse().unwrap();
        let url = api.url(Report::Usage, from, until, Some("c1"));
        assert_eq!(
            url,
            "http://stub/v1/organization/usage/completions?start_time=1793491200&end_time=1793664000&bucket_width=1d\
             &group_by=model&group_by=project_id&group_by=api_key_id&group_by=batch&group_by=service_tier&limit=31&page=c1"
        );
        let anthropic = AdminApi::new(ReportProvider::Anthropic, "http://stub", "sk-ant-admin01-x");
        let url = anthropic.url(Report::Cost, from, until, None);
        assert_eq!(
            url,
            "http://stub/v1/organizations/cost_report?starting_at=2026-11-01T00%3A00%3A00Z&ending_at=2026-11-03T00%3A00%3A00Z\
             &bucket_width=1d&group_by%5B%5D=workspace_id&group_by%5B%5D=description&limit=31"
        );
    }

    #[test]
    fn the_key_is_not_in_the_debug_form() {
        let api = AdminApi::new(ReportProvider::OpenAi, "http://stub", "sk-admin-secret");
        assert!(!format!("{api:?}").contains("secret"));
    }
}
