//! `llmlab prices set`: the account's own price for a model (`POST /api/prices`).

use clap::Args;
use llmlab_api::{SetPriceRequest, SetPriceResponse};
use llmlab_core::Money;

use crate::ExitStatus;
use crate::client::{Client, block_on};
use crate::config::{ServerArgs, Settings};
use crate::display::count;
use crate::printer::{self, GREEN, UserError};

const EXAMPLES: &str = "\
Examples:
  llmlab prices set my-finetune --input 0.30 --output 1.20
  llmlab prices set gpt-4o --provider openai --input 2 --output 8 --cache-read 1   Override the catalog
  llmlab prices set acme-llm --provider acme --input 1 --output 3 --json

Prices are USD per 1M tokens. The account's earlier unpriced calls of the
model are priced at once. A price that looks like a slip (per token, below $0.001
per 1M, or a thousand times off the catalog's price for the model) is refused
unless --force is given.";

/// Set your account's price for a model (USD per 1M tokens); reprices its unpriced calls
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct PricesSetArgs {
    /// The model id as your events report it
    #[arg(value_name = "MODEL")]
    model: String,
    /// USD per 1M input tokens
    #[arg(long, value_name = "USD", allow_hyphen_values = true)]
    input: String,
    /// USD per 1M output tokens
    #[arg(long, value_name = "USD", allow_hyphen_values = true)]
    output: String,
    /// USD per 1M cached input tokens read
    #[arg(long, value_name = "USD", allow_hyphen_values = true)]
    cache_read: Option<String>,
    /// USD per 1M tokens written to the cache (5-minute / default)
    #[arg(long, value_name = "USD", allow_hyphen_values = true)]
    cache_write: Option<String>,
    /// USD per 1M tokens written to the 1-hour cache
    #[arg(long, value_name = "USD", allow_hyphen_values = true)]
    cache_write_1h: Option<String>,
    /// Only for this provider's events (`gemini` is stored as `google`) [default: any provider]
    #[arg(long, value_name = "P")]
    provider: Option<String>,
    #[command(flatten)]
    server: ServerArgs,
    /// Print the stored price as JSON
    #[arg(long)]
    json: bool,
    /// Store a price that looks like a slip: per token instead of per 1M (below $0.001), or a
    /// thousand times off the catalog's price for the model
    #[arg(long)]
    force: bool,
}

pub(crate) fn run(args: &PricesSetArgs) -> anyhow::Result<ExitStatus> {
    let price = |flag: &str, raw: &str| -> anyhow::Result<Money> {
        let text = raw.trim().trim_start_matches('$');
        match text.parse::<Money>() {
            Ok(m) if m >= Money::ZERO && !text.contains(['e', 'E']) => Ok(m),
            Err(llmlab_core::money::MoneyError::OutOfRange(_)) => Err(UserError::new(format!(
                "`--{flag} {}` is more than LLMLab can store (at most {} per 1M tokens)",
                raw.trim(),
                crate::display::usd(Money::MAX)
            ))
            .into()),
            _ => Err(UserError::new(format!("`--{flag} {raw}` is not a price"))
                .with_hint("give USD per 1M tokens as a number such as `2.50`")
                .into()),
        }
    };
    let optional = |flag: &str, raw: Option<&String>| raw.map(|r| price(flag, r)).transpose();
    let request = SetPriceRequest {
        model: args.model.clone(),
        provider: args.provider.clone(),
        input_per_million_usd: price("input", &args.input)?,
        output_per_million_usd: price("output", &args.output)?,
        cache_read_per_million_usd: optional("cache-read", args.cache_read.as_ref())?,
        cache_write_per_million_usd: optional("cache-write", args.cache_write.as_ref())?,
        cache_write_1h_per_million_usd: optional("cache-write-1h", args.cache_write_1h.as_ref())?,
        force: args.force,
    };
    let settings = Settings::load(&args.server)?;
    let client = Client::authenticated(&settings)?;
    let response = block_on(client.post::<_, SetPriceResponse>("/api/prices", &request))??;
    if args.json {
        printer::out_json(&response)?;
        return Ok(ExitStatus::Success);
    }
    let p = &response.price;
    let scope = p.provider.as_deref().map(|p| format!(" ({p})")).unwrap_or_default();
    let mut classes =
        vec![format!("input ${}", p.input_per_million_usd), format!("output ${}", p.output_per_million_usd)];
    for (name, value) in [
        ("cache read", p.cache_read_per_million_usd),
        ("cache write", p.cache_write_per_million_usd),
        ("cache write 1h", p.cache_write_1h_per_million_usd),
    ] {
        if let Some(value) = value {
            classes.push(format!("{name} ${value}"));
        }
    }
    printer::info(&format!("{GREEN}✓{GREEN:#} `{}`{scope} now costs {} per 1M tokens", p.model, classes.join(", ")));
    if response.repriced_events > 0 {
        let n = response.repriced_events;
        let calls = if n == 1 { "call" } else { "calls" };
        printer::info(&format!("{GREEN}✓{GREEN:#} Priced {} earlier unpriced {calls}", count(n)));
    }
    Ok(ExitStatus::Success)
}
