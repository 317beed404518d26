//! `llmlab prices update`: a newer price catalog for the server, without a
//! release (`POST /api/admin/catalog`, with the server's admin token).

use std::fmt::Write as _;
use std::io::Read as _;

use clap::Args;
use llmlab_api::{CatalogNote, CatalogUpdateRequest, CatalogUpdateResponse};
use llmlab_core::catalog_import::SourceFormat;

use crate::ExitStatus;
use crate::client::{Client, block_on};
use crate::config::{ServerArgs, Settings};
use crate::display::count;
use crate::printer::{self, BOLD, DIM, GREEN, UserError};

const EXAMPLES: &str = "\
Examples:
  llmlab prices update prices.toml --dry-run   What a newer catalog would change
  llmlab prices update prices.toml             Apply it: unpriced calls of new models get priced
  llmlab prices update model_prices_and_context_window.json   Add LiteLLM's missing models
  llmlab prices update data.json --format genai-prices        Add genai-prices' missing models
  LLMLAB_ADMIN_TOKEN=llmadm_… llmlab prices update prices.toml --server https://llmlab.example.com

The file is LLMLab's catalog TOML (the format of the built-in catalog, see
`docs/prices.md`), LiteLLM's model_prices_and_context_window.json, or
genai-prices' data JSON; the format is detected unless --format says it. A
catalog older than the one in force (its `updated` date) is refused. Public
sources only ADD models the catalog lacks: models it prices differently are
listed, never changed, and what cannot be mapped is listed, never guessed.
Applying stores the catalog in the server's database (it survives restarts)
and prices every account's unpriced calls of newly priced models at the
prices of their own date; priced calls keep their cost. A price that looks
like a slip (per token, or a thousand times off the catalog's) is refused
unless --force is given. Needs the server's admin token.";

/// Load a newer price catalog into the server (LLMLab TOML, LiteLLM or genai-prices JSON)
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct PricesUpdateArgs {
    /// The catalog file (`-`: standard input)
    #[arg(value_name = "FILE")]
    file: String,
    /// The file's format [default: detected from its text]
    #[arg(long, value_name = "FORMAT", value_parser = ["llmlab", "litellm", "genai-prices"])]
    format: Option<String>,
    /// Only show what the update would change
    #[arg(long)]
    dry_run: bool,
    /// Apply prices that look like a slip: per token instead of per 1M, or a thousand times off the catalog's
    #[arg(long)]
    force: bool,
    /// The server's admin token
    #[arg(long, value_name = "TOKEN", env = "LLMLAB_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// The LLMLab server [default: the config file's `base_url`, else `http://127.0.0.1:8787`]
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Print the server's answer as JSON
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &PricesUpdateArgs) -> anyhow::Result<ExitStatus> {
    let content = read(&args.file)?;
    let format = match &args.format {
        Some(format) => format.parse::<SourceFormat>().map_err(UserError::new)?,
        None => SourceFormat::detect(&content),
    };
    let Some(token) = args.admin_token.as_deref().map(str::trim).filter(|t| !t.is_empty()) else {
        return Err(UserError::new("updating the server's price catalog needs its admin token")
            .with_hint("pass it with `--admin-token` or `LLMLAB_ADMIN_TOKEN` (see `llmlab serve --help`)")
            .into());
    };
    let settings = Settings::load(&ServerArgs { server: args.server.clone(), api_key: None })?;
    let client = Client::new(&settings.base_url.value, Some(token))?;
    let request = CatalogUpdateRequest {
        content,
        format: Some(format.as_str().to_owned()),
        dry_run: args.dry_run,
        force: args.force,
    };
    let response = block_on(client.post::<_, CatalogUpdateResponse>("/api/admin/catalog", &request))??;
    if args.json {
        printer::out_json(&response)?;
        return Ok(ExitStatus::Success);
    }
    printer::out(&render(&response));
    if response.applied {
        let n = response.repriced_events;
        let calls = if n == 1 { "call" } else { "calls" };
        printer::info(&format!(
            "{GREEN}✓{GREEN:#} The server prices with the catalog of {} now; priced {} earlier unpriced {calls}",
            response.to_version,
            count(n)
        ));
    } else if args.dry_run {
        printer::note("dry run: nothing was changed; run it without `--dry-run` to apply");
    } else {
        printer::note("the server already prices with this catalog: nothing to apply");
    }
    Ok(ExitStatus::Success)
}

fn read(file: &str) -> anyhow::Result<String> {
    let mut text = String::new();
    if file == "-" {
        std::io::stdin().read_to_string(&mut text)?;
        return Ok(text);
    }
    std::fs::read_to_string(file).map_err(|e| UserError::new(format!("cannot read `{file}`: {e}")).into())
}

/// The diff, as people read it.
fn render(r: &CatalogUpdateResponse) -> String {
    let mut out = format!("{BOLD}Price catalog {} → {}{BOLD:#} ({})\n", r.from_version, r.to_version, r.format);
    let section = |out: &mut String, title: &str, n: usize| {
        let _ = writeln!(out, "\n{BOLD}{title} ({n}){BOLD:#}");
    };
    if r.added.is_empty() && r.removed.is_empty() && r.changed.is_empty() {
        out.push_str("\nNo model changes.\n");
    }
    if !r.added.is_empty() {
        section(&mut out, "Added", r.added.len());
        for m in &r.added {
            let _ = writeln!(
                out,
                "  + {} ({}): ${} input, ${} output per 1M tokens, from {}",
                m.id, m.provider, m.input_per_million_usd, m.output_per_million_usd, m.effective_from
            );
        }
    }
    if !r.changed.is_empty() {
        section(&mut out, "Changed", r.changed.len());
        for m in &r.changed {
            let _ = writeln!(out, "  ~ {} ({}), prices from {}", m.id, m.provider, m.effective_from);
            for p in &m.prices {
                let show = |v: &Option<String>| v.as_ref().map_or_else(|| "none".to_owned(), |v| format!("${v}"));
                let _ = writeln!(out, "      {} {}: {} → {}", p.table, p.class, show(&p.before), show(&p.after));
            }
            for other in &m.other {
                let _ = writeln!(out, "      {other}");
            }
        }
    }
    if !r.removed.is_empty() {
        section(&mut out, "Removed (their calls are no longer priced)", r.removed.len());
        for m in &r.removed {
            let _ = writeln!(out, "  - {} ({})", m.id, m.provider);
        }
    }
    let notes = |out: &mut String, title: &str, list: &[CatalogNote]| {
        if list.is_empty() {
            return;
        }
        section(out, title, list.len());
        for n in list {
            let _ = writeln!(out, "  {DIM}·{DIM:#} {}: {}", n.model, n.reason);
        }
    };
    notes(&mut out, "Priced differently by the catalog (not changed)", &r.differing);
    notes(&mut out, "Not imported", &r.unmapped);
    if r.unchanged > 0 {
        let _ = writeln!(out, "\n{} models agree with the catalog.", count(r.unchanged as u64));
    }
    out
}
