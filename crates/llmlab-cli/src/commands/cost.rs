//! `llmlab cost`: price a raw provider response offline.

use std::fmt::Write as _;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use clap::Args;
use jiff::civil::Date;
use llmlab_core::normalize::MAX_BODY_BYTES;
use llmlab_core::{Catalog, CostReport, Hints, Provider, ServiceTier, normalize_body, price_usage};

use crate::ExitStatus;
use crate::printer::{self, Align, BOLD, DIM, Table, UserError};

const EXAMPLES: &str = "\
Examples:
  llmlab cost response.json
  llmlab cost stream.sse --json
  curl -s https://api.openai.com/v1/chat/completions … | llmlab cost
  echo '{\"prompt_tokens\":1200,\"completion_tokens\":80}' | llmlab cost --provider openai --model gpt-4o
  llmlab cost batch_output.jsonl           A batch's results file (OpenAI or Anthropic): totals per model";

/// Price a provider response: JSON, an SSE stream, or a batch's results file
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct CostArgs {
    /// The response body file; `-` or nothing reads standard input
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// The provider (`openai`, `anthropic`, `google` or its alias `gemini`); detected from the body when omitted
    #[arg(long, value_name = "P")]
    provider: Option<String>,
    /// Price as this model instead of the one the body names
    #[arg(long, value_name = "M")]
    model: Option<String>,
    /// Bill at Batch API prices (batch output lines are detected on their own)
    #[arg(long)]
    batch: bool,
    /// Price at the rates in force on this date (default: today, UTC)
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = crate::parse::date)]
    on: Option<Date>,
    /// Print a JSON object instead of a table
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &CostArgs) -> anyhow::Result<ExitStatus> {
    let provider = args.provider.as_deref().map(Provider::parse);
    if let Some(p) = provider.as_ref().filter(|p| !p.is_known()) {
        // Only the built-in providers' usage shapes and prices are known offline.
        let hint = match p.suggestion() {
            Some(name) => format!("did you mean `{name}`?"),
            None => "use `openai`, `anthropic` or `google` (or its alias `gemini`), or omit `--provider`".to_owned(),
        };
        return Err(UserError::new(format!("provider `{p}` is not built in")).with_hint(hint).into());
    }
    let body = read_body(args.file.as_ref())?;
    let on = args.on.unwrap_or_else(|| jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date());
    if let Some(lines) = super::cost_batch::jsonl_lines(&body) {
        if args.model.is_some() {
            return Err(
                UserError::new("`--model` prices one response; a batch results file names each line's model").into()
            );
        }
        super::cost_batch::run(&lines, provider, on, args.json)?;
        return Ok(ExitStatus::Success);
    }
    let hints = Hints { provider, model: args.model.clone() };
    let mut usage = normalize_body(&body, &hints).map_err(|e| UserError::new(e.to_string()))?;
    if args.batch {
        usage.service_tier = ServiceTier::Batch;
    }
    let model = args.model.as_deref().or(usage.model.as_deref()).map(str::to_owned);
    let pricing = price_usage(Catalog::builtin(), &usage, model.as_deref(), on, None);
    let report = CostReport::new(&usage, model.as_deref(), &pricing);
    if args.json {
        printer::out_json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(ExitStatus::Success)
}

fn read_body(file: Option<&PathBuf>) -> anyhow::Result<Vec<u8>> {
    let limit = MAX_BODY_BYTES as u64 + 1;
    let mut body = Vec::new();
    if let Some(path) = file.filter(|f| f.as_os_str() != "-") {
        let handle =
            std::fs::File::open(path).map_err(|e| UserError::new(format!("cannot read `{}`: {e}", path.display())))?;
        handle
            .take(limit)
            .read_to_end(&mut body)
            .map_err(|e| UserError::new(format!("cannot read `{}`: {e}", path.display())))?;
    } else {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            return Err(UserError::new("no response body given")
                .with_hint("pass a FILE, or pipe a body in: `llmlab cost < response.json`")
                .into());
        }
        stdin
            .lock()
            .take(limit)
            .read_to_end(&mut body)
            .map_err(|e| UserError::new(format!("cannot read standard input: {e}")))?;
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(UserError::new(llmlab_core::NormalizeError::TooLarge.to_string()).into());
    }
    Ok(body)
}

fn print_report(report: &CostReport) {
    let model = report.model.as_deref().unwrap_or("(no model)");
    let mut header = format!("{BOLD}{model}{BOLD:#}  {DIM}{}", report.provider);
    if let Some(api) = report.api {
        let _ = write!(header, " · {}", api.as_str());
    }
    let _ = write!(header, " · {}", report.service_tier);
    if let Some(as_id) = report.priced_as.as_deref().filter(|id| Some(*id) != report.model.as_deref()) {
        let _ = write!(header, " · priced as {as_id}");
    }
    let _ = writeln!(header, "{DIM:#}");
    printer::out(&header);

    if report.priced {
        let mut table = Table::new(&[
            ("class", Align::Left),
            ("tokens", Align::Right),
            ("$/1M", Align::Right),
            ("cost $", Align::Right),
        ]);
        for line in &report.lines {
            let unit = if llmlab_core::cost::is_request_fee_class(line.class) {
                format!("{}/req", line.unit_price_usd.normalize())
            } else {
                line.unit_price_usd.normalize().to_string()
            };
            table.row(vec![
                line.class.to_owned(),
                line.quantity.to_string(),
                unit,
                line.cost_usd.normalize().to_string(),
            ]);
        }
        printer::out(&table.render());
        let cost = report.cost_usd.map(|c| c.to_string()).unwrap_or_default();
        // A cut-off stream's cost is a lower bound.
        let at_least = if report.partial { "at least " } else { "" };
        printer::out(&format!("{BOLD}total {at_least}${cost}{BOLD:#}\n"));
    } else {
        let b = &report.buckets;
        let mut table = Table::new(&[("class", Align::Left), ("tokens", Align::Right)]);
        let fees = llmlab_core::TokenClass::ALL
            .iter()
            .filter(|c| c.is_request_fee())
            .filter_map(|c| Some((c.catalog_class()?, c.of(b))));
        let token_classes = [
            ("input", b.input_tokens),
            ("cache_read", b.cache_read_tokens),
            ("cache_write_5m", b.cache_write_tokens),
            ("cache_write_1h", b.cache_write_1h_tokens),
            ("output", b.output_tokens),
        ];
        for (class, tokens) in token_classes.into_iter().chain(fees) {
            if tokens > 0 {
                table.row(vec![class.to_owned(), tokens.to_string()]);
            }
        }
        printer::out(&table.render());
        printer::out(&format!("{BOLD}unpriced{BOLD:#}\n"));
        if let Some(reason) = &report.unpriced_reason {
            printer::warn(reason);
        }
    }
    if let Some(reason) = &report.partial_reason {
        let what = if report.estimated { "estimated lower bound" } else { "lower bound" };
        printer::warn(&format!("cut-off stream, an {what}: {reason}"));
    }
    if report.buckets.reasoning_tokens > 0 {
        printer::note(&format!("{} of the output tokens are reasoning", report.buckets.reasoning_tokens));
    }
    for note in &report.notes {
        printer::note(note);
    }
}
