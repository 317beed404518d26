//! `/`: what LLMLab does, the two-minute quickstart, the three flows (SPEC §2)
//! and the way in.

use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

use super::layout::{self, Nav};
use super::{html_response, session};

/// Until the packages are published, from a clone (as crates/llmlab-cli/README.md says).
const QUICKSTART: &str = "git clone https://github.com/llmlab/llmlab
cd llmlab
pip install ./crates/llmlab-cli ./sdk/python
llmlab serve
# then, in a second terminal:
llmlab init";

const SNIPPET: &str = "from llmlab import track_cost
from openai import OpenAI

client = OpenAI()

@track_cost(provider=\"openai\")
def ask(q: str):
    return client.chat.completions.create(
        model=\"gpt-4o-mini\",
        messages=[{\"role\": \"user\", \"content\": q}],
    )";

const STATUS: &str = "llmlab status
llmlab budget 500
llmlab optimize";

/// `GET /`.
pub(super) async fn page(headers: axum::http::HeaderMap) -> Response {
    let signed_in = session::token_from_cookie(&headers).is_some();
    html_response(StatusCode::OK, layout::page("Know what every LLM call costs", Nav::Home, false, &body(signed_in)))
}

fn body(signed_in: bool) -> Markup {
    html! {
        section class="py-6 sm:py-10" aria-labelledby="hero-title" {
            p class="text-sm font-semibold text-indigo-700" { "Free, open source, self-hosted" }
            h1 id="hero-title" class="mt-2 max-w-3xl text-3xl font-bold tracking-tight text-slate-900 sm:text-5xl" {
                "Know what every LLM call costs, two minutes from now."
            }
            p class="mt-4 max-w-2xl text-lg text-slate-700" {
                "LLMLab records the tokens of every OpenAI, Anthropic and Gemini call your code makes, prices them "
                "exactly (cached input, cache writes, reasoning, long-context tiers, Batch API), warns you before a "
                "budget runs out, and tells you which change would save the most."
            }
            div class="mt-6 flex flex-wrap gap-3" {
                @if signed_in {
                    a href="/dashboard" class=(layout::BUTTON) { "Open your dashboard" }
                } @else {
                    a href="/dashboard#signup" class=(layout::BUTTON) { "Create an account" }
                    a href="/dashboard" class=(layout::BUTTON_SECONDARY) { "Sign in with an API key" }
                }
            }
        }
        section class="mt-4 grid gap-4 md:grid-cols-3" aria-label="Features" {
            (feature("Exact, never a silent $0", "Every token class, priced from a catalog with a source and a date per price. A call to an unknown model is flagged, not counted as free, and priced as soon as you add its price."))
            (feature("Budgets that warn in time", "Set a monthly budget; at 80% and 100% you are warned in the CLI, on this dashboard and by the SDK. The proxy can even refuse calls over budget."))
            (feature("Savings with their figures", "Cheaper models of the same class repriced on your own token mix, prompt caching, the Batch API: each tip names the dollars it saves and why."))
        }
        section class="mt-10" aria-labelledby="quickstart-title" {
            h2 id="quickstart-title" class="text-2xl font-bold tracking-tight" { "Quickstart" }
            // Two columns, the Python example on the right: each code block gets the width of its longest line.
            ol class="mt-4 grid gap-6 lg:grid-cols-2 lg:grid-rows-[auto_1fr]" {
                li class="min-w-0 lg:col-start-1 lg:row-start-1" {
                    h3 class="font-semibold" { "1. Install and sign up" }
                    p class="mt-1 text-sm text-slate-700" {
                        "Install the CLI (built with Rust 1.95+) and the SDK from a clone; once published they will be "
                        (layout::kbd("pip install llmlab-cli llmlab")) ". " (layout::kbd("llmlab init"))
                        " creates your account and writes the config both read."
                    }
                    div class="mt-3" { (layout::code("quickstart-install", "install commands", QUICKSTART)) }
                }
                li class="min-w-0 lg:col-start-2 lg:row-span-2 lg:row-start-1" {
                    h3 class="font-semibold" { "2. Decorate your function" }
                    p class="mt-1 text-sm text-slate-700" { "Works with the official OpenAI, Anthropic and Google GenAI clients, sync or async, streaming included." }
                    div class="mt-3" { (layout::code("quickstart-snippet", "Python example", SNIPPET)) }
                }
                li class="min-w-0 lg:col-start-1 lg:row-start-2" {
                    h3 class="font-semibold" { "3. Look at the numbers" }
                    p class="mt-1 text-sm text-slate-700" { "Here on the dashboard, or in the terminal: spend and trend, a $500 monthly budget with warnings at 80% and 100%, and what to change to spend less." }
                    div class="mt-3" { (layout::code("quickstart-cli", "CLI commands", STATUS)) }
                }
            }
        }
        section class="mt-10" aria-labelledby="flows-title" {
            h2 id="flows-title" class="text-2xl font-bold tracking-tight" { "Three things that just work" }
            div class="mt-4 grid gap-4 md:grid-cols-3" {
                (flow("Instant visibility", &["pip install ./crates/llmlab-cli ./sdk/python", "llmlab serve", "llmlab init", "llmlab status", "llmlab optimize"],
                    "From install to your spend and your first tips in under two minutes."))
                (flow("Automatic tracking", &["from llmlab import track_cost", "@track_cost(provider=\"openai\")"],
                    "Every call's tokens and cost appear in the CLI and on this dashboard within seconds, streams and async included. No other code."))
                (flow("Budget alerts", &["llmlab budget 500"],
                    "At 80% and 100% of the month's budget: a warning in llmlab status, a coloured bar here, and a Python warning (or your callback) from the SDK."))
            }
        }
        section class="mt-10 rounded-lg bg-indigo-700 p-6 text-white sm:p-8" aria-labelledby="cta-title" {
            h2 id="cta-title" class="text-xl font-bold" { "See your own numbers" }
            p class="mt-2 max-w-2xl text-indigo-100" { "Create an account on this server, or sign in with the key " (layout::kbd("llmlab init")) " gave you." }
            div class="mt-4 flex flex-wrap gap-3" {
                a href="/dashboard" class="inline-flex items-center rounded-md bg-white px-4 py-2 text-sm font-semibold text-indigo-800 shadow-sm hover:bg-indigo-50 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-white" { "Open the dashboard" }
            }
        }
    }
}

fn feature(title: &str, text: &str) -> Markup {
    html! {
        div class="rounded-lg bg-white p-5 shadow-sm ring-1 ring-slate-200" {
            h2 class="font-semibold text-slate-900" { (title) }
            p class="mt-2 text-sm text-slate-700" { (text) }
        }
    }
}

fn flow(title: &str, steps: &[&str], outcome: &str) -> Markup {
    html! {
        div class="flex flex-col rounded-lg bg-white p-5 shadow-sm ring-1 ring-slate-200" {
            h3 class="font-semibold" { (title) }
            ol class="mt-3 space-y-1 font-mono text-xs text-slate-800" {
                @for step in steps { li class="rounded bg-slate-100 px-2 py-1 [overflow-wrap:anywhere]" { (step) } }
            }
            p class="mt-3 text-sm text-slate-700" { (outcome) }
        }
    }
}
