//! A connection's sync: each report's pages over `[from, until)` UTC days,
//! parsed and priced by the core, stored page by page. Resumable: every page
//! records the day before which the report is stored whole, and the next
//! sync starts there (or at the days the providers may still revise, if
//! earlier). Idempotent: rows are upserted on the report's own keys and a
//! re-reported day replaces the rows it had, so nothing is ever doubled.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use llmlab_api::SyncResult;
use llmlab_core::Catalog;
use llmlab_core::provider_report::{self, CostRow, Page, ReportError, ReportProvider, UsageRow, price::price_row};
use llmlab_core::{Money, Provider};
use llmlab_store::{ConnectionRow, NewReportedCost, NewReportedUsage, ReportPage, Store, StoreError};

use super::admin_api::{AdminApi, AdminApiError, Report};

/// Days the providers may still revise (late data, the day in progress): every sync fetches them again.
pub const RESYNC_DAYS: i64 = 3;
/// Most days one sync may go back.
pub const MAX_DAYS: u32 = 365;
/// Days imported on connect unless told otherwise.
pub const DEFAULT_DAYS: u32 = 30;

/// Why a sync stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Api(#[from] AdminApiError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("the server cannot store the report: {0}")]
    Store(#[from] StoreError),
    #[error("the {0} report has an amount LLMLab cannot store: {1}")]
    Amount(&'static str, String),
    #[error("the connection's admin key cannot be opened: {0}")]
    Key(String),
}

impl SyncError {
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::Api(api) => api.code(),
            _ => "report_failed",
        }
    }
}

/// The UTC days a sync covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub from: Date,
    /// Exclusive: the day after today.
    pub until: Date,
}

/// Where a report's sync starts: `days` back when asked; else where the last
/// one stopped, or the revisable recent days if those come first; else
/// (never synced) the connection's backfill.
#[must_use]
pub fn plan(next_day: Option<i64>, backfill_days: i64, days: Option<u32>, today: Date) -> Range {
    let until = today.tomorrow().unwrap_or(today);
    let back = |n: i64| today.checked_sub((n.max(1) - 1).days()).unwrap_or(today);
    let from = match (days, next_day) {
        (Some(days), _) => back(i64::from(days)),
        (None, Some(next)) => day_of_ms(next).unwrap_or(today).min(back(RESYNC_DAYS)),
        (None, None) => back(backfill_days),
    };
    Range { from, until }
}

pub(crate) fn midnight_ms(day: Date) -> i64 {
    day.to_zoned(TimeZone::UTC).map_or(0, |z| z.timestamp().as_millisecond())
}

pub(crate) fn day_of_ms(ms: i64) -> Option<Date> {
    Timestamp::from_millisecond(ms).ok().map(|t| t.to_zoned(TimeZone::UTC).date())
}

fn midnight(day: Date) -> Timestamp {
    Timestamp::from_millisecond(midnight_ms(day)).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// What a sync of one provider needs.
pub struct SyncJob<'a> {
    pub store: &'a Store,
    pub catalog: &'a Catalog,
    pub api: &'a AdminApi<'a>,
    pub connection: &'a ConnectionRow,
    pub days: Option<u32>,
    pub today: Date,
    /// Newer syncs have larger ids; a sync deletes only older syncs' leftovers.
    pub sync_id: i64,
}

/// Syncs both reports of one connection; the outcome says how far it got.
pub async fn run(job: &SyncJob<'_>) -> SyncResult {
    let usage_range = plan(job.connection.usage_next_day, job.connection.backfill_days, job.days, job.today);
    let cost_range = plan(job.connection.cost_next_day, job.connection.backfill_days, job.days, job.today);
    let mut result = SyncResult {
        provider: job.connection.provider.clone(),
        from: usage_range.from.min(cost_range.from).to_string(),
        until: usage_range.until.to_string(),
        pages: 0,
        usage_rows: 0,
        cost_rows: 0,
        error: None,
        error_code: None,
    };
    let outcome = async {
        sync_report(job, Report::Usage, usage_range, &mut result).await?;
        sync_report(job, Report::Cost, cost_range, &mut result).await
    }
    .await;
    if let Err(error) = outcome {
        result.error_code = Some(error.code().to_owned());
        result.error = Some(error.to_string());
    }
    result
}

/// Fetches and stores every page of one report over `range`.
async fn sync_report(
    job: &SyncJob<'_>,
    report: Report,
    range: Range,
    result: &mut SyncResult,
) -> Result<(), SyncError> {
    let provider = job.api.provider;
    let (from, until) = (midnight(range.from), midnight(range.until));
    let mut cursor: Option<String> = None;
    let mut complete_before = midnight_ms(range.from);
    loop {
        let body = job.api.page(report, from, until, cursor.as_deref()).await?;
        result.pages += 1;
        let (days, next) = match report {
            Report::Usage => {
                let page = parse_usage(provider, &body)?;
                let rows = usage_rows(job.catalog, provider, &page.rows);
                result.usage_rows += rows.len() as u64;
                let done = page_complete_before(&page.days, page.next_page.is_some(), range, complete_before);
                job.store.store_usage_page(&store_page(job, &rows, range, done)).await?;
                (done, page.next_page)
            }
            Report::Cost => {
                let page = parse_cost(provider, &body)?;
                let rows = cost_rows(job.catalog, provider, &page.rows)?;
                result.cost_rows += rows.len() as u64;
                let done = page_complete_before(&page.days, page.next_page.is_some(), range, complete_before);
                job.store.store_cost_page(&store_page(job, &rows, range, done)).await?;
                (done, page.next_page)
            }
        };
        complete_before = days;
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(()),
        }
    }
}

fn store_page<'a, T>(job: &'a SyncJob<'_>, rows: &'a [T], range: Range, complete_before: i64) -> ReportPage<'a, T> {
    ReportPage {
        user_id: job.connection.user_id,
        provider: job.connection.provider.as_str(),
        sync_id: job.sync_id,
        rows,
        from_day: midnight_ms(range.from),
        complete_before,
    }
}

/// The day before which the report is stored whole after this page: the
/// page's last day may go on in the next page, so only the days before it;
/// after the last page, the whole range.
fn page_complete_before(days: &[Date], more: bool, range: Range, so_far: i64) -> i64 {
    if !more {
        return midnight_ms(range.until);
    }
    days.iter().max().map_or(so_far, |last| midnight_ms(*last).max(so_far))
}

fn parse_usage(provider: ReportProvider, body: &[u8]) -> Result<Page<UsageRow>, ReportError> {
    match provider {
        ReportProvider::OpenAi => provider_report::openai::parse_usage_page(body),
        ReportProvider::Anthropic => provider_report::anthropic::parse_usage_page(body),
    }
}

fn parse_cost(provider: ReportProvider, body: &[u8]) -> Result<Page<CostRow>, ReportError> {
    match provider {
        ReportProvider::OpenAi => provider_report::openai::parse_cost_page(body),
        ReportProvider::Anthropic => provider_report::anthropic::parse_cost_page(body),
    }
}

/// Usage rows priced with the catalog, as the store keeps them.
#[must_use]
pub fn usage_rows(catalog: &Catalog, provider: ReportProvider, rows: &[UsageRow]) -> Vec<NewReportedUsage> {
    rows.iter()
        .map(|row| {
            let priced = price_row(catalog, provider, row);
            let (cost, unpriced_reason) = match priced.cost {
                Ok(cost) => (Some(cost), None),
                Err(reason) => (None, Some(reason)),
            };
            NewReportedUsage {
                day: midnight_ms(row.day),
                bucket_key: row.bucket_key(),
                model: row.model.clone(),
                priced_as: priced.priced_as,
                project: row.project.clone(),
                api_key_id: row.api_key_id.clone(),
                service_tier: row.tier_name.clone().unwrap_or_else(|| row.service_tier.as_str().to_owned()),
                context_window: row.context_window.clone(),
                requests: row.requests.map(|r| i64::try_from(r).unwrap_or(i64::MAX)),
                tokens: row.tokens,
                cost,
                unpriced_reason,
            }
        })
        .collect()
}

/// Cost rows as the store keeps them: the amount exactly as stated, and its model's catalog id.
pub fn cost_rows(
    catalog: &Catalog,
    provider: ReportProvider,
    rows: &[CostRow],
) -> Result<Vec<NewReportedCost>, SyncError> {
    let known = match provider {
        ReportProvider::OpenAi => Provider::OpenAi,
        ReportProvider::Anthropic => Provider::Anthropic,
    };
    rows.iter()
        .map(|row| {
            let amount = Money::from_decimal_usd(row.amount_usd)
                .map_err(|e| SyncError::Amount(provider.label(), e.to_string()))?;
            let priced_as =
                row.model.as_deref().and_then(|m| catalog.resolve(Some(&known), m)).map(|found| found.entry.id.clone());
            Ok(NewReportedCost {
                day: midnight_ms(row.day),
                bucket_key: row.bucket_key(),
                line_item: row.line_item.clone(),
                model: row.model.clone(),
                priced_as,
                project: row.project.clone(),
                amount_text: row.amount_text.clone(),
                amount_usd: row.amount_usd.normalize().to_string(),
                amount,
                currency: row.currency.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn a_first_sync_backfills_then_syncs_resume_or_refetch_the_recent_days() {
        let today = date(2026, 12, 7);
        assert_eq!(plan(None, 30, None, today), Range { from: date(2026, 11, 8), until: date(2026, 12, 8) });
        // Stopped mid-way on Nov 20: resume there.
        let stopped = midnight_ms(date(2026, 11, 20));
        assert_eq!(plan(Some(stopped), 30, None, today).from, date(2026, 11, 20));
        // Up to date: the last three days again (late data).
        let done = midnight_ms(date(2026, 12, 8));
        assert_eq!(plan(Some(done), 30, None, today).from, date(2026, 12, 5));
        // Asked for 90 days: 90 days.
        assert_eq!(plan(Some(done), 30, Some(90), today).from, date(2026, 9, 9));
    }

    #[test]
    fn a_page_completes_the_days_before_its_last_one() {
        let range = Range { from: date(2026, 11, 1), until: date(2026, 11, 10) };
        let days = [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)];
        assert_eq!(page_complete_before(&days, true, range, 0), midnight_ms(date(2026, 11, 3)));
        assert_eq!(page_complete_before(&days, false, range, 0), midnight_ms(date(2026, 11, 10)));
        assert_eq!(page_complete_before(&[], true, range, 7), 7);
    }
}
