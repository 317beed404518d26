//! `llmlab cost FILE.jsonl`: a batch's results file, one result per line (an
//! OpenAI batch output file, an Anthropic message batch's results), priced
//! line by line at batch prices by the core, and totalled per model.

use std::collections::BTreeMap;

use jiff::civil::Date;
use llmlab_core::{Catalog, Hints, Money, Provider, TokenBuckets, normalize_body, price_usage};
use serde::Serialize;

use crate::printer::{self, Align, BOLD, Table};

/// The lines of `body` when it is JSON Lines (two or more lines, each a JSON
/// object); `None` for anything else (one response, an SSE stream).
#[must_use]
pub(crate) fn jsonl_lines(body: &[u8]) -> Option<Vec<&[u8]>> {
    let lines: Vec<&[u8]> = body.split(|b| *b == b'\n').map(<[u8]>::trim_ascii).filter(|l| !l.is_empty()).collect();
    let objects = lines.len() >= 2
        && lines
            .iter()
            .all(|line| line.first() == Some(&b'{') && serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok());
    objects.then_some(lines)
}

/// One model's results.
#[derive(Default, Serialize)]
struct ModelTotal {
    provider: String,
    model: String,
    /// Results priced.
    calls: u64,
    /// Results of the model that could not be priced (no price for it).
    unpriced_calls: u64,
    #[serde(flatten)]
    tokens: TokenBuckets,
    cost_usd: Money,
}

/// A line that was not billed or could not be read.
#[derive(Serialize)]
struct Skipped {
    line: usize,
    reason: String,
}

#[derive(Serialize)]
struct BatchReport {
    lines: usize,
    priced_calls: u64,
    unpriced_calls: u64,
    total_usd: Money,
    by_model: Vec<ModelTotal>,
    /// Failed, errored, canceled or expired requests (not billed), and unreadable lines.
    skipped: Vec<Skipped>,
}

/// Prices every line and prints the totals per model.
pub(crate) fn run(lines: &[&[u8]], provider: Option<Provider>, on: Date, json: bool) -> anyhow::Result<()> {
    let hints = Hints { provider, model: None };
    let mut by_model: BTreeMap<(String, String), ModelTotal> = BTreeMap::new();
    let mut skipped = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let usage = match normalize_body(line, &hints) {
            Ok(usage) => usage,
            Err(error) => {
                skipped.push(Skipped { line: index + 1, reason: error.to_string() });
                continue;
            }
        };
        let model = usage.model.clone().unwrap_or_else(|| "(no model)".to_owned());
        let pricing = price_usage(Catalog::builtin(), &usage, Some(&model), on, None);
        let total = by_model.entry((usage.provider.as_str().to_owned(), model.clone())).or_insert_with(|| ModelTotal {
            provider: usage.provider.as_str().to_owned(),
            model,
            ..ModelTotal::default()
        });
        total.tokens += usage.buckets;
        match pricing.result {
            Ok(quote) => {
                total.calls += 1;
                total.cost_usd += quote.cost;
            }
            Err(_) => total.unpriced_calls += 1,
        }
    }
    let by_model: Vec<ModelTotal> = by_model.into_values().collect();
    let report = BatchReport {
        lines: lines.len(),
        priced_calls: by_model.iter().map(|m| m.calls).sum(),
        unpriced_calls: by_model.iter().map(|m| m.unpriced_calls).sum(),
        total_usd: by_model.iter().map(|m| m.cost_usd).sum(),
        by_model,
        skipped,
    };
    if json {
        printer::out_json(&report)?;
    } else {
        print(&report);
    }
    Ok(())
}

fn print(report: &BatchReport) {
    let mut table = Table::new(&[
        ("model", Align::Left),
        ("results", Align::Right),
        ("input", Align::Right),
        ("output", Align::Right),
        ("cost $", Align::Right),
    ]);
    for model in &report.by_model {
        let t = &model.tokens;
        let results = if model.unpriced_calls > 0 {
            format!("{} (+{} unpriced)", model.calls, model.unpriced_calls)
        } else {
            model.calls.to_string()
        };
        table.row(vec![
            format!("{}/{}", model.provider, model.model),
            results,
            t.prompt_tokens().to_string(),
            t.output_tokens.to_string(),
            model.cost_usd.to_string(),
        ]);
    }
    printer::out(&table.render());
    printer::out(&format!(
        "{BOLD}total ${}{BOLD:#} for {} results at batch prices ({} lines)\n",
        report.total_usd, report.priced_calls, report.lines
    ));
    if report.unpriced_calls > 0 {
        printer::warn(&format!(
            "{} results are of models without a price and are not in the total; `llmlab prices MODEL` shows what is known",
            report.unpriced_calls
        ));
    }
    for skip in &report.skipped {
        printer::note(&format!("line {}: {}", skip.line, skip.reason));
    }
}
