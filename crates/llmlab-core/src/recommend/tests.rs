//! Usage mixes with hand-computed savings. Prices are the built-in catalog's
//! (USD per 1M tokens, web searches per request) on 2026-11-27; each test
//! writes out the arithmetic so a reviewer can redo it.

use std::str::FromStr;

use jiff::civil::{Date, date};

use super::text::{compact, usd};
use super::*;

const ON: Date = date(2026, 11, 27);

fn last_days(days: u32) -> Window {
    Window::ending_on(ON, days).unwrap()
}

fn money(usd: &str) -> Money {
    Money::from_str(usd).unwrap()
}

/// A row with every call priced and none batched.
fn row(provider: Provider, model: &str, calls: u64, buckets: TokenBuckets, cost: &str) -> ModelUsage {
    ModelUsage {
        provider,
        model: model.to_owned(),
        calls,
        priced_calls: calls,
        buckets,
        cost: money(cost),
        batch_calls: 0,
    }
}

fn tips_for(usage: &[ModelUsage], window: Window) -> Vec<Tip> {
    recommend(Catalog::builtin(), usage, window, ON)
}

fn only(tips: &[Tip], kind: TipKind) -> &Tip {
    let found: Vec<&Tip> = tips.iter().filter(|t| t.kind == kind).collect();
    assert_eq!(found.len(), 1, "expected one {kind:?} tip in {tips:#?}");
    found[0]
}

fn saving(tip: &Tip) -> String {
    tip.monthly_savings.expect("a saving tip").to_string()
}

fn kinds(tips: &[Tip]) -> Vec<TipKind> {
    tips.iter().map(|t| t.kind).collect()
}

fn mentions(tip: &Tip, text: &str) -> bool {
    tip.detail.contains(text) || tip.assumptions.iter().any(|a| a.contains(text))
}

// --- Mix 1: OpenAI gpt-4o with cached input → gpt-4o-mini ----------------

/// 100,000 calls in 30 days: 200M uncached input, 50M cache reads, 20M output.
fn gpt_4o_mix() -> ModelUsage {
    let buckets = TokenBuckets {
        input_tokens: 200_000_000,
        cache_read_tokens: 50_000_000,
        output_tokens: 20_000_000,
        ..TokenBuckets::default()
    };
    // gpt-4o: 200 × 2.50 + 50 × 1.25 + 20 × 10 = 500 + 62.50 + 200 = 762.50
    row(Provider::OpenAi, "gpt-4o", 100_000, buckets, "762.5")
}

#[test]
fn gpt_4o_with_cached_input_switches_to_gpt_4o_mini() {
    let tips = tips_for(&[gpt_4o_mix()], last_days(30));
    let switch = only(&tips, TipKind::SwitchModel);
    // gpt-4o-mini:  200 × 0.15 + 50 × 0.075 + 20 × 0.60 = 30 + 3.75 + 12 = 45.75
    // gpt-4.1-mini: 200 × 0.40 + 50 × 0.10  + 20 × 1.60 = 80 + 5 + 32   = 117
    // best: 762.50 − 45.75 = 716.75 in 30 days = 716.75/mo (gpt-4.1-mini: 645.50)
    assert_eq!(switch.suggested_model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(switch.current_model.as_deref(), Some("gpt-4o"));
    assert_eq!(switch.provider, Some(Provider::OpenAi));
    assert_eq!(saving(switch), "716.75");
    assert_eq!(switch.title, "Switch gpt-4o → gpt-4o-mini: save $716.75/mo on 100k calls");
    assert!(mentions(switch, "cache reads: 50,000,000 tokens at $1.25 → $0.075 per 1M"), "{switch:#?}");
    assert!(mentions(switch, "gpt-4.1-mini (saves $645.50/mo)"));
    assert!(switch.detail.contains("$762.50") && switch.detail.contains("$45.75"));
}

#[test]
fn gpt_4o_also_gets_a_batch_tip_but_no_caching_tip_at_exactly_20_percent_reads() {
    let tips = tips_for(&[gpt_4o_mix()], last_days(30));
    // Cache reads are 50 / (200 + 50) = exactly 20% of input: caching is in use.
    // Batch: 200 × 1.25 + 50 × 0.625 + 20 × 5 = 250 + 31.25 + 100 = 381.25;
    // 762.50 − 381.25 = 381.25/mo.
    assert_eq!(kinds(&tips), [TipKind::SwitchModel, TipKind::BatchApi, TipKind::TopSpend]);
    let batch = only(&tips, TipKind::BatchApi);
    assert_eq!(saving(batch), "381.25");
    assert!(batch.assumptions[0].starts_with("Upper bound"));
    assert!(mentions(batch, "Not additive: the switch_model tip"));
}

// --- Mix 2: OpenAI gpt-4.1, a quarter already batched, 15-day window -----

/// 10,000 calls, 2,500 of them on batch, in 15 days: 40M input, 10M output.
fn gpt_4_1_partly_batched() -> ModelUsage {
    let buckets = TokenBuckets { input_tokens: 40_000_000, output_tokens: 10_000_000, ..TokenBuckets::default() };
    // standard 40 × 2 + 10 × 8 = 160; batch 40 × 1 + 10 × 4 = 80;
    // recorded: 0.75 × 160 + 0.25 × 80 = 120 + 20 = 140
    ModelUsage { batch_calls: 2_500, ..row(Provider::OpenAi, "gpt-4.1", 10_000, buckets, "140") }
}

#[test]
fn batch_tip_counts_only_the_calls_not_yet_batched() {
    let tips = tips_for(&[gpt_4_1_partly_batched()], last_days(15));
    let batch = only(&tips, TipKind::BatchApi);
    // 0.75 × (160 − 80) = 60 in 15 days → 60 × 30 / 15 = 120/mo
    assert_eq!(saving(batch), "120");
    assert_eq!(batch.title, "Use the Batch API for gpt-4.1: save up to $120.00/mo");
    assert!(batch.detail.contains("7,500 of gpt-4.1's 10,000 priced calls (75.0%)"), "{}", batch.detail);
    assert!(mentions(batch, "uncached input: 40,000,000 tokens at $2.00 → $1.00 per 1M"));
}

#[test]
fn switch_reprices_the_batched_share_at_batch_prices() {
    let tips = tips_for(&[gpt_4_1_partly_batched()], last_days(15));
    // current mix: 160 − (160 − 80) × 0.25 = 140
    // gpt-5-mini   std 40 × 0.25 + 10 × 2 = 30, batch 15 → 30 − 15 × 0.25 = 26.25 → 113.75 → ×2 = 227.50/mo
    // gpt-4.1-mini std 40 × 0.4 + 10 × 1.6 = 32, batch 16 → 28 → 112 → 224/mo
    // gpt-5.4-mini std 40 × 0.75 + 10 × 4.5 = 75, batch 37.5 → 65.625 → 74.375 → 148.75/mo
    // gpt-5-mini saves most but retires on 2026-12-11, within 30 days of ON: never suggested.
    let switch = only(&tips, TipKind::SwitchModel);
    assert_eq!(switch.suggested_model.as_deref(), Some("gpt-4.1-mini"));
    assert_eq!(saving(switch), "224");
    assert!(mentions(switch, "gpt-5.4-mini (saves $148.75/mo)"), "{switch:#?}");
    assert!(!mentions(switch, "gpt-5-mini"), "{switch:#?}");
    assert!(mentions(switch, "gpt-4.1-mini is scheduled to retire on 2027-01-14"), "{switch:#?}");
    assert!(mentions(switch, "2,500 of the 10,000 calls already ran on batch/flex"));
}

#[test]
fn caching_on_a_partly_batched_model_blends_both_tables() {
    let tips = tips_for(&[gpt_4_1_partly_batched()], last_days(15));
    // 4,000 uncached input tokens per call, no cache reads. Prefix 50% = 20M:
    // 2M writes (gpt-4.1 bills none: input price), 18M reads.
    // standard 18 × (2 − 0.5) = 27; batch 18 × (1 − 0.25) = 13.5
    // blend 27 − (27 − 13.5) × 0.25 = 23.625 in 15 days → 47.25/mo
    let caching = only(&tips, TipKind::PromptCaching);
    assert_eq!(saving(caching), "47.25");
    assert!(mentions(caching, "the input price: gpt-4.1 bills no cache writes"));
    assert_eq!(kinds(&tips), [TipKind::SwitchModel, TipKind::BatchApi, TipKind::PromptCaching, TipKind::TopSpend]);
}

// --- Mix 3: Anthropic claude-sonnet-4-5 with 5m/1h writes → claude-haiku-4-5

fn sonnet_with_cache_writes() -> ModelUsage {
    let buckets = TokenBuckets {
        input_tokens: 10_000_000,
        cache_read_tokens: 200_000_000,
        cache_write_tokens: 8_000_000,
        cache_write_1h_tokens: 2_000_000,
        output_tokens: 6_000_000,
        ..TokenBuckets::default()
    };
    // 10 × 3 + 200 × 0.30 + 8 × 3.75 + 2 × 6 + 6 × 15 = 30 + 60 + 30 + 12 + 90 = 222
    row(Provider::Anthropic, "claude-sonnet-4-5-20250929", 20_000, buckets, "222")
}

#[test]
fn sonnet_with_5m_and_1h_cache_writes_switches_to_haiku() {
    let tips = tips_for(&[sonnet_with_cache_writes()], last_days(30));
    // haiku-4-5:  10 × 1 + 200 × 0.10 + 8 × 1.25 + 2 × 2 + 6 × 5  = 10 + 20 + 10 + 4 + 30 = 74  → 148
    // sonnet-5-5: 10 × 2 + 200 × 0.10 + 8 × 2.50 + 2 × 4 + 6 × 10 = 20 + 20 + 20 + 8 + 60 = 128 → 94
    let switch = only(&tips, TipKind::SwitchModel);
    assert_eq!(switch.current_model.as_deref(), Some("claude-sonnet-4-5"));
    assert_eq!(switch.suggested_model.as_deref(), Some("claude-haiku-4-5"));
    assert_eq!(saving(switch), "148");
    assert!(mentions(switch, "cache writes (1-hour): 2,000,000 tokens at $6.00 → $2.00 per 1M"));
    assert!(mentions(
        switch,
        "Calls stored as claude-sonnet-4-5-20250929 are all priced as the catalog's claude-sonnet-4-5"
    ));
    // Average prompt (10 + 200 + 8 + 2)M / 20,000 = 11,000: below sonnet's 200,000 tier.
    assert!(mentions(switch, "claude-sonnet-4-5 at its standard prices (long-context above 200,000 tokens)"));
    // Uncached input is 500 per call (< 1,024): no caching tip. Batch: 222 / 2 = 111.
    assert_eq!(kinds(&tips), [TipKind::SwitchModel, TipKind::BatchApi, TipKind::TopSpend]);
    assert_eq!(saving(only(&tips, TipKind::BatchApi)), "111");
}

// --- Mix 4: Anthropic claude-opus-4-5 with web searches, 10-day window ----

fn opus_with_web_search() -> ModelUsage {
    let buckets = TokenBuckets {
        input_tokens: 20_000_000,
        output_tokens: 4_000_000,
        web_search_requests: 10_000,
        ..TokenBuckets::default()
    };
    // 20 × 5 + 4 × 25 + 10,000 × 0.01 = 100 + 100 + 100 = 300
    row(Provider::Anthropic, "claude-opus-4-5", 5_000, buckets, "300")
}

#[test]
fn web_searches_are_priced_on_both_sides_of_a_switch() {
    let tips = tips_for(&[opus_with_web_search()], last_days(10));
    // sonnet-5-5: 20 × 2 + 4 × 10 + 100 = 180 → 120 in 10 days → 360/mo
    // sonnet-4-6: 20 × 3 + 4 × 15 + 100 = 220 → 80  → 240/mo
    // opus-5-5:   20 × 4 + 4 × 20 + 100 = 260 → 40  → 120/mo
    let switch = only(&tips, TipKind::SwitchModel);
    assert_eq!(switch.suggested_model.as_deref(), Some("claude-sonnet-5-5"));
    assert_eq!(saving(switch), "360");
    assert!(mentions(switch, "web searches: 10,000 requests at $0.01 → $0.01 each"));
}

/// Gemini 3 Flash grounded with Google Search, 10 days: 5,000 grounded prompts
/// running 10,000 search queries.
fn grounded_gemini_3_flash() -> ModelUsage {
    let buckets = TokenBuckets {
        input_tokens: 100_000_000,
        output_tokens: 1_000_000,
        web_search_requests: 10_000,
        grounded_prompts: 5_000,
        ..TokenBuckets::default()
    };
    // 100 × 0.50 + 1 × 3 + 10,000 queries × 0.014 + 5,000 prompts × 0 = 50 + 3 + 140 = 193
    row(Provider::Google, "gemini-3-flash-preview", 5_000, buckets, "193")
}

#[test]
fn grounding_fees_are_priced_by_each_models_own_billing_unit() {
    let tips = tips_for(&[grounded_gemini_3_flash()], last_days(10));
    // gemini-3.1-flash-lite: 100 × 0.25 + 1 × 1.50 + 140 = 166.50 → 26.50 in 10 days → 79.50/mo.
    let switch = only(&tips, TipKind::SwitchModel);
    assert_eq!(switch.suggested_model.as_deref(), Some("gemini-3.1-flash-lite"));
    assert_eq!(saving(switch), "79.5");
    assert!(mentions(switch, "web searches: 10,000 requests at $0.014 → $0.014 each"), "{switch:#?}");
    assert!(mentions(switch, "search-grounded prompts: 5,000 prompts at $0.00 → $0.00 each"), "{switch:#?}");
    assert!(mentions(switch, "The same tokens on gemini-3.1-flash-lite would cost $166.50"), "{switch:#?}");
}

#[test]
fn anthropic_caching_pays_the_write_premium() {
    let tips = tips_for(&[opus_with_web_search()], last_days(10));
    // 4,000 uncached input per call, no reads. Prefix 10M: 1M writes at 6.25, 9M reads at 0.50.
    // 9 × (5 − 0.50) − 1 × (6.25 − 5) = 40.50 − 1.25 = 39.25 in 10 days → 117.75/mo
    let caching = only(&tips, TipKind::PromptCaching);
    assert_eq!(saving(caching), "117.75");
    assert!(mentions(caching, "1,000,000 tokens written at $6.25 per 1M (its 5-minute cache-write price)"));
    assert!(caching.detail.contains("cache_control"));
    // Batch: 20 × 2.50 + 4 × 12.50 + 100 (fees unchanged) = 200 → 100 → 300/mo.
    assert_eq!(saving(only(&tips, TipKind::BatchApi)), "300");
    assert_eq!(kinds(&tips), [TipKind::SwitchModel, TipKind::BatchApi, TipKind::PromptCaching, TipKind::TopSpend]);
}

// --- Mixes 5 and 6: Gemini 2.5 Pro under and over the 200k tier ------------

#[test]
fn gemini_pro_under_the_long_context_threshold_prices_at_standard() {
    let buckets = TokenBuckets {
        input_tokens: 50_000_000,
        cache_read_tokens: 10_000_000,
        output_tokens: 2_000_000,
        ..TokenBuckets::default()
    };
    // Average prompt (50 + 10)M / 1,000 = 60,000 ≤ 200,000: standard prices.
    // pro: 50 × 1.25 + 10 × 0.125 + 2 × 10 = 62.50 + 1.25 + 20 = 83.75
    let usage = row(Provider::Google, "models/gemini-2.5-pro", 1_000, buckets, "83.75");
    let tips = tips_for(&[usage], last_days(30));
    // flash:     50 × 0.30 + 10 × 0.03  + 2 × 2.50 = 15 + 0.30 + 5 = 20.30 → 63.45
    // 3.8-flash: 50 × 0.75 + 10 × 0.075 + 2 × 3.75 = 37.50 + 0.75 + 7.50 = 45.75 → 38
    // 2.5-flash retires on 2026-12-01, four days after ON: 3.8-flash is suggested.
    let switch = only(&tips, TipKind::SwitchModel);
    assert_eq!(switch.suggested_model.as_deref(), Some("gemini-3.8-flash"));
    assert_eq!(saving(switch), "38");
    assert!(mentions(switch, "prompts average 60,000 tokens per call"));
    // Reads 10 / 60 = 16.7% < 20%: prefix 25M → 22.5M reads × (1.25 − 0.125) = 25.3125; writes unbilled.
    assert_eq!(saving(only(&tips, TipKind::PromptCaching)), "25.3125");
    let caching = only(&tips, TipKind::PromptCaching);
    assert!(caching.detail.contains("read only 16.7% of its input (10,000,000 of 60,000,000 tokens)"));
    assert!(caching.detail.contains("storage"));
    // Batch: 50 × 0.625 + 10 × 0.125 + 2 × 5 = 42.50 → 41.25.
    assert_eq!(saving(only(&tips, TipKind::BatchApi)), "41.25");
}

#[test]
fn gemini_pro_over_the_long_context_threshold_prices_the_whole_mix_at_the_tier() {
    let buckets = TokenBuckets { input_tokens: 25_000_000, output_tokens: 500_000, ..TokenBuckets::default() };
    // Average prompt 25M / 100 = 250,000 > 200,000: pro's long-context table for everything.
    // pro: 25 × 2.50 + 0.5 × 15 = 62.50 + 7.50 = 70 (at standard it would be 31.25 + 5 = 36.25)
    let usage = row(Provider::Google, "gemini-2.5-pro", 100, buckets, "70");
    let tips = tips_for(&[usage], last_days(30));
    // flash has no tier: 25 × 0.30 + 0.5 × 2.50 = 7.50 + 1.25 = 8.75 → 61.25
    // 3.8-flash:         25 × 0.75 + 0.5 × 3.75 = 18.75 + 1.875 = 20.625 → 49.375
    // 2.5-flash retires on 2026-12-01, four days after ON: 3.8-flash is suggested.
    let switch = only(&tips, TipKind::SwitchModel);
    assert_eq!(switch.suggested_model.as_deref(), Some("gemini-3.8-flash"));
    assert_eq!(saving(switch), "49.375");
    assert!(mentions(switch, "gemini-2.5-pro at its long-context prices (above 200,000 tokens)"));
    assert!(mentions(switch, "gemini-3.8-flash at its standard prices (no long-context tier)"));
    assert!(mentions(switch, "uncached input: 25,000,000 tokens at $2.50 → $0.75 per 1M"));
    // Batch at the tier's batch table: 25 × 1.25 + 0.5 × 7.50 = 35 → 35/mo.
    assert_eq!(saving(only(&tips, TipKind::BatchApi)), "35");
}

// --- Mix 7: prompt caching on OpenAI gpt-4.1-mini --------------------------

#[test]
fn large_uncached_inputs_get_a_caching_tip_at_the_cache_read_price() {
    let buckets = TokenBuckets { input_tokens: 100_000_000, output_tokens: 1_000_000, ..TokenBuckets::default() };
    // 10,000 uncached input tokens per call, no reads. Cost 100 × 0.40 + 1 × 1.60 = 41.60.
    let usage = row(Provider::OpenAi, "gpt-4.1-mini", 10_000, buckets, "41.6");
    let tips = tips_for(&[usage], last_days(30));
    // Prefix 50M: 5M writes (no write price: no premium), 45M reads × (0.40 − 0.10) = 13.50/mo
    let caching = only(&tips, TipKind::PromptCaching);
    assert_eq!(saving(caching), "13.5");
    assert_eq!(caching.title, "Cache the repeated prompt prefix on gpt-4.1-mini: save about $13.50/mo");
    assert!(caching.detail.contains("10,000 uncached input tokens per call"));
    assert!(caching.detail.contains("read none of its input from the prompt cache"));
    assert!(mentions(caching, "Repeated prefix: 50% of the uncached input tokens (50,000,000)"));
    // gpt-6-luna: 100 × 0.10 + 1 × 0.50 = 10.50 → 31.10; gpt-5.4-nano: 20 + 1.25 = 21.25 → 20.35
    assert_eq!(saving(only(&tips, TipKind::SwitchModel)), "31.1");
    // Batch: 100 × 0.20 + 1 × 0.80 = 20.80 → 20.80.
    assert_eq!(saving(only(&tips, TipKind::BatchApi)), "20.8");
}

// --- Mixes 8 and 9: savings below the thresholds ---------------------------

#[test]
fn a_saving_under_one_dollar_a_month_gives_no_tip() {
    let buckets = TokenBuckets { input_tokens: 100_000, output_tokens: 10_000, ..TokenBuckets::default() };
    // gpt-4o: 0.1 × 2.50 + 0.01 × 10 = 0.35; gpt-4o-mini 0.015 + 0.006 = 0.021 → 0.329 < $1.
    // Batch 0.175 and caching 0.045 × 1.25 = 0.05625 are under $1 too.
    let usage = row(Provider::OpenAi, "gpt-4o", 10, buckets, "0.35");
    let tips = tips_for(&[usage], last_days(30));
    assert_eq!(kinds(&tips), [TipKind::TopSpend]);
    assert!(tips[0].detail.contains("$0.35"));
}

#[test]
fn a_saving_under_five_percent_of_the_models_spend_gives_no_tip() {
    let buckets = TokenBuckets {
        input_tokens: 1_000_000,
        output_tokens: 100_000,
        web_search_requests: 1_000_000,
        ..TokenBuckets::default()
    };
    // opus-4-5: 1 × 5 + 0.1 × 25 + 1,000,000 × 0.01 = 5 + 2.50 + 10,000 = 10,007.50
    // sonnet-5-5: 2 + 1 + 10,000 → saves 4.50/mo: over $1 but 0.04% of spend.
    // Batch saves 3.75 (fees unchanged); 10 uncached tokens per call: no caching.
    let usage = row(Provider::Anthropic, "claude-opus-4-5", 100_000, buckets, "10007.5");
    let tips = tips_for(&[usage], last_days(30));
    assert_eq!(kinds(&tips), [TipKind::TopSpend]);
}

// --- Mix 10: unknown models ----------------------------------------------------

#[test]
fn unknown_models_get_no_tip_of_any_kind_and_never_panic() {
    let buckets = TokenBuckets { input_tokens: 1_000_000_000, output_tokens: 1_000_000, ..TokenBuckets::default() };
    let usage = [
        row(Provider::Other("mistral".into()), "mistral-large", 1_000, buckets, "500"),
        row(Provider::OpenAi, "gpt-99-ultra", 1_000, buckets, "500"),
        // A real model id under the wrong provider does not resolve either.
        row(Provider::OpenAi, "claude-sonnet-4-5", 1_000, buckets, "500"),
        ModelUsage { priced_calls: 0, cost: Money::ZERO, ..row(Provider::OpenAi, "gpt-4o", 1_000, buckets, "0") },
    ];
    assert!(tips_for(&usage, last_days(30)).is_empty());
    assert!(tips_for(&[], last_days(30)).is_empty());
}

#[test]
fn spend_outside_the_catalog_counts_in_the_total_but_is_not_ranked() {
    let unknown = row(Provider::OpenAi, "gpt-99-ultra", 1, TokenBuckets::default(), "762.5");
    let tips = tips_for(&[gpt_4o_mix(), unknown], last_days(30));
    let top = only(&tips, TipKind::TopSpend);
    // 762.50 / (762.50 + 762.50) = 50%
    assert_eq!(top.title, "Top spend: gpt-4o is 50.0% of your LLM spend");
    assert!(mentions(top, "$762.50 spent on models outside the price catalog"));
    assert!(tips.iter().all(|t| t.current_model.as_deref() != Some("gpt-99-ultra")));
}

// --- Mix 11: Gemini embeddings, with and without audio ----------------------

#[test]
fn embeddings_switch_with_a_re_embedding_caveat_unless_audio_has_no_price_there() {
    // gemini-embedding-2: 100M text tokens × 0.20 = 20; gemini-embedding-001: × 0.15 = 15 → 5/mo (25%).
    let text = TokenBuckets { input_tokens: 100_000_000, ..TokenBuckets::default() };
    let tips = tips_for(&[row(Provider::Google, "gemini-embedding-2", 50_000, text, "20")], last_days(30));
    let switch = only(&tips, TipKind::SwitchModel);
    assert_eq!(switch.suggested_model.as_deref(), Some("gemini-embedding-001"));
    assert_eq!(saving(switch), "5");
    assert!(mentions(switch, "switching means re-embedding everything stored"));
    // With 1M audio tokens: 9 × 0.20 + 1 × 6.50 = 8.30. gemini-embedding-001 has no audio
    // price, so it is not a candidate (it would otherwise bill the audio at 0.15).
    // Batch is still offered: 9 × 0.10 + 1 × 3.25 = 4.15 → 8.30 − 4.15 = 4.15/mo.
    let audio = TokenBuckets { input_tokens: 10_000_000, input_audio_tokens: 1_000_000, ..TokenBuckets::default() };
    let tips = tips_for(&[row(Provider::Google, "gemini-embedding-2", 5_000, audio, "8.3")], last_days(30));
    assert_eq!(kinds(&tips), [TipKind::BatchApi, TipKind::TopSpend]);
    assert_eq!(saving(&tips[0]), "4.15");
    assert!(mentions(&tips[0], "audio input: 1,000,000 tokens at $6.50 → $3.25 per 1M"));
}

// --- Ordering --------------------------------------------------------------

#[test]
fn tips_are_sorted_by_saving_with_top_spend_last() {
    let usage = [sonnet_with_cache_writes(), opus_with_web_search(), gpt_4o_mix()];
    let tips = tips_for(&usage, last_days(30));
    let savings: Vec<Money> = tips.iter().filter_map(|t| t.monthly_savings).collect();
    // gpt-4o switch 716.75, gpt-4o batch 381.25, sonnet switch 148, opus switch 120,
    // sonnet batch 111, opus batch 100, opus caching 39.25 (30-day window for all).
    let expected = ["716.75", "381.25", "148", "120", "111", "100", "39.25"];
    assert_eq!(savings, expected.map(money));
    assert_eq!(tips.last().unwrap().kind, TipKind::TopSpend);
    assert_eq!(tips.len(), expected.len() + 1);
    // Total 222 + 300 + 762.50 = 1,284.50; gpt-4o 762.50 / 1,284.50 = 59.36…%
    let top = tips.last().unwrap();
    assert_eq!(top.title, "Top spend: gpt-4o is 59.4% of your LLM spend");
    assert!(top.detail.contains("1. gpt-4o (openai): $762.50, 59.4% of spend"), "{}", top.detail);
    assert!(top.detail.contains("3. claude-sonnet-4-5 (anthropic): $222.00, 17.3% of spend"));
}

// --- Merging, a hand-made catalog, formatting --------------------------------

#[test]
fn rows_of_one_catalog_model_are_merged() {
    let whole = gpt_4o_mix();
    let half = TokenBuckets {
        input_tokens: 100_000_000,
        cache_read_tokens: 25_000_000,
        output_tokens: 10_000_000,
        ..TokenBuckets::default()
    };
    let usage = [
        row(Provider::OpenAi, "gpt-4o-2024-08-06", 50_000, half, "381.25"),
        row(Provider::OpenAi, "gpt-4o", 50_000, half, "381.25"),
    ];
    let merged = tips_for(&usage, last_days(30));
    let alone = tips_for(&[whole], last_days(30));
    assert_eq!(merged[0].monthly_savings, alone[0].monthly_savings);
    assert!(mentions(&merged[0], "Calls stored as gpt-4o-2024-08-06, gpt-4o are all priced as the catalog's gpt-4o"));
}

const HAND_MADE: &str = r#"
schema = 1
updated = "2026-11-27"

[[models]]
id = "big"
provider = "anthropic"
kind = "chat"
status = "current"
class = "large"
alternatives = ["gone", "plain", "no-search"]
effective_from = "2025-01-01"
source = "test"
standard = { input = "10", cache_read = "1", cache_write_5m = "12.5", output = "20" }
request_fees = { web_search = "0.01" }

[[models]]
id = "gone"
provider = "anthropic"
kind = "chat"
status = "legacy"
class = "small"
effective_from = "2025-01-01"
source = "test"
standard = { input = "0.1", output = "0.1" }
request_fees = { web_search = "0.01" }

[[models]]
id = "plain"
provider = "anthropic"
kind = "chat"
status = "current"
class = "small"
effective_from = "2025-01-01"
source = "test"
standard = { input = "1", output = "2" }
request_fees = { web_search = "0.01" }

[[models]]
id = "no-search"
provider = "anthropic"
kind = "chat"
status = "current"
class = "small"
effective_from = "2025-01-01"
source = "test"
standard = { input = "0.5", output = "1" }

[[models]]
id = "edge"
provider = "openai"
kind = "chat"
status = "current"
class = "x"
alternatives = ["edge-alt"]
effective_from = "2025-01-01"
source = "test"
standard = { input = "20", output = "20" }

[[models]]
id = "edge-alt"
provider = "openai"
kind = "chat"
status = "current"
class = "x"
effective_from = "2025-01-01"
source = "test"
standard = { input = "19", output = "19" }
"#;

#[test]
fn missing_cache_prices_are_priced_as_input_and_legacy_or_searchless_models_are_skipped() {
    let catalog = Catalog::from_toml(HAND_MADE).unwrap();
    let buckets = TokenBuckets {
        input_tokens: 100_000,
        cache_read_tokens: 4_000_000,
        cache_write_tokens: 1_000_000,
        output_tokens: 1_000_000,
        web_search_requests: 100,
        ..TokenBuckets::default()
    };
    // big:   0.1 × 10 + 4 × 1 + 1 × 12.50 + 1 × 20 + 100 × 0.01 = 1 + 4 + 12.50 + 20 + 1 = 38.50
    // plain: reads and writes at its input price: (0.1 + 4 + 1) × 1 + 1 × 2 + 1 = 8.10 → 30.40
    // gone (legacy) and no-search (no web-search fee) would be cheaper but are not candidates.
    let usage = [row(Provider::Anthropic, "big", 1_000, buckets, "38.5")];
    let tips = recommend(&catalog, &usage, last_days(30), ON);
    let switch = only(&tips, TipKind::SwitchModel);
    assert_eq!(switch.suggested_model.as_deref(), Some("plain"));
    assert_eq!(saving(switch), "30.4");
    assert!(
        mentions(
            switch,
            "cache reads: 4,000,000 tokens at $1.00 → $1.00 per 1M (plain has no price for cache reads: priced as its uncached input)"
        ),
        "{switch:#?}"
    );
    assert!(!mentions(switch, "no-search") && !mentions(switch, "gone"));
}

#[test]
fn the_thresholds_are_inclusive() {
    let catalog = Catalog::from_toml(HAND_MADE).unwrap();
    let tokens = |input_tokens| TokenBuckets { input_tokens, ..TokenBuckets::default() };
    // edge 1M × 20 = 20; edge-alt 1M × 19 = 19 → saves exactly $1, exactly 5% of 20.
    let at = [row(Provider::OpenAi, "edge", 10, tokens(1_000_000), "20")];
    let tips = recommend(&catalog, &at, last_days(30), ON);
    assert_eq!(saving(only(&tips, TipKind::SwitchModel)), "1");
    // 999,999 tokens: saves 0.999999 < $1.
    let under = [row(Provider::OpenAi, "edge", 10, tokens(999_999), "19.99998")];
    assert_eq!(kinds(&recommend(&catalog, &under, last_days(30), ON)), [TipKind::TopSpend]);
    // Recorded spend of 20.01: $1 is 4.998% of it.
    let dearer = [row(Provider::OpenAi, "edge", 10, tokens(1_000_000), "20.01")];
    assert_eq!(kinds(&recommend(&catalog, &dearer, last_days(30), ON)), [TipKind::TopSpend]);
}

#[test]
fn windows_count_both_ends() {
    let window = Window::ending_on(ON, 30).unwrap();
    assert_eq!(window.first_day(), date(2026, 10, 29));
    assert_eq!(window.days(), 30);
    assert_eq!(Window::new(ON, ON).unwrap().days(), 1);
    assert!(Window::new(ON, date(2026, 11, 26)).is_none());
    assert!(Window::ending_on(ON, 0).is_none());
}

#[test]
fn money_and_counts_are_written_for_people() {
    assert_eq!(usd(money("212.4")), "$212.40");
    assert_eq!(usd(money("1234567.891")), "$1,234,567.89");
    assert_eq!(usd(money("1")), "$1.00");
    assert_eq!(usd(money("0.5")), "$0.50");
    assert_eq!(usd(money("0.123456")), "$0.123");
    assert_eq!(usd(money("0.0042")), "$0.0042");
    assert_eq!(usd(money("0.000000001")), "$0.000000001");
    assert_eq!(usd(Money::ZERO), "$0.00");
    assert_eq!(compact(812), "812");
    assert_eq!(compact(45_250), "45.3k");
    assert_eq!(compact(100_000), "100k");
    assert_eq!(compact(1_200_000), "1.2M");
    assert_eq!(TipKind::SwitchModel.as_str(), "switch_model");
}
