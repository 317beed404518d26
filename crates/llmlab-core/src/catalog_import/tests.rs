use jiff::civil::Date;

use super::*;
use crate::catalog::BUILTIN_CATALOG_TOML;
use crate::catalog_update::{check_update, diff};
use crate::{Catalog, Provider};

const TODAY: Date = Date::constant(2026, 12, 8);
const GENAI: &str = include_str!("testdata/genai_prices_0.2.5_subset.json");
const LITELLM: &str = include_str!("testdata/litellm_subset.json");

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn reasons<'a>(list: &'a [Unmapped], model: &str) -> Vec<&'a str> {
    list.iter().filter(|u| u.model == model).map(|u| u.reason.as_str()).collect()
}

#[test]
fn formats_are_detected_from_the_text() {
    assert_eq!(SourceFormat::detect(BUILTIN_CATALOG_TOML), SourceFormat::Llmlab);
    assert_eq!(SourceFormat::detect(LITELLM), SourceFormat::Litellm);
    assert_eq!(SourceFormat::detect(GENAI), SourceFormat::GenaiPrices);
    assert_eq!(SourceFormat::detect("[[models]]\nid = \"x\""), SourceFormat::Llmlab, "TOML can start with `[`");
    assert_eq!("genai-prices".parse::<SourceFormat>(), Ok(SourceFormat::GenaiPrices));
    assert!("csv".parse::<SourceFormat>().unwrap_err().contains("`llmlab`, `litellm` or `genai-prices`"));
}

#[test]
fn genai_prices_adds_missing_models_with_dated_prices_and_tiers() {
    let builtin = Catalog::builtin();
    let import = genai_prices::import(BUILTIN_CATALOG_TOML, builtin, GENAI, TODAY).unwrap();
    let updated = Catalog::from_toml(&import.text).unwrap();
    assert_eq!(updated.updated(), TODAY);
    assert_eq!(check_update(builtin, &updated, TODAY, false), Ok(()));
    // Gemini 4 Carbon: $2/$10 until 2026-12-01, then $4/$20; tiers from the dates genai-prices gives.
    let carbon = updated.entry("gemini-4-carbon").unwrap();
    assert_eq!(carbon.provider, Provider::Google);
    assert_eq!(carbon.effective_from, Date::constant(2026, 12, 1));
    let november = carbon.rates_on(Date::constant(2026, 11, 20));
    assert_eq!((november.standard.input, november.standard.output), (d("2"), d("10")));
    assert_eq!(november.batch.as_ref().map(|b| b.input), Some(d("1")));
    assert_eq!(november.priority.as_ref().map(|p| p.output), Some(d("18")));
    let october = carbon.rates_on(Date::constant(2026, 10, 1));
    assert_eq!((october.standard.input, october.batch.is_none()), (d("2"), true), "no tier before its date");
    let december = carbon.rates_on(Date::constant(2026, 12, 1));
    assert_eq!((december.standard.input, december.standard.output), (d("4"), d("20")));
    assert_eq!(december.standard.cache_read, Some(d("0.2")));
    assert_eq!(december.flex.as_ref().map(|f| f.output), Some(d("10")));
    // Long-context prices, on every tier.
    let astra = updated.entry("gpt-6.2-astra").unwrap();
    let long = astra.rates.long_context.as_ref().unwrap();
    assert_eq!((long.above_prompt_tokens, long.standard.input, long.standard.output), (272_000, d("16"), d("60")));
    assert_eq!(long.priority.as_ref().map(|p| p.input), Some(d("32")));
    assert_eq!(astra.rates.batch.as_ref().map(|b| b.cache_read), Some(Some(d("0.2"))));
    assert!(reasons(&import.unmapped, "gpt-6.2-astra").iter().any(|r| r.contains("`service_tier: ultrafast`")));
    // Anthropic's 5-minute and 1-hour cache writes.
    let fable = updated.entry("claude-fable-5-2").unwrap();
    assert_eq!(fable.rates.standard.cache_write_5m, Some(d("10")));
    assert_eq!(fable.rates.standard.cache_write_1h, Some(d("16")));
    assert!(reasons(&import.unmapped, "claude-fable-5-2").iter().any(|r| r.contains("`speed: fast`")));
    // Models the catalog has are compared, never changed.
    assert!(import.unchanged >= 2, "{import:?}");
    assert!(!import.added.iter().any(|id| id == "gpt-4o" || id == "gemini-4-argon"));
    assert_eq!(updated.entry("gpt-4o"), builtin.entry("gpt-4o"));
    // What LLMLab cannot express is listed, never guessed.
    assert!(reasons(&import.unmapped, "claude-4-opus")[0].contains("Vertex AI"));
    assert!(reasons(&import.unmapped, "gpt-image-1")[0].contains("which LLMLab does not model"));
    assert!(import.unmapped.iter().any(|u| u.model == "provider mistral"));
    let changes = diff(builtin, &updated);
    assert_eq!(changes.added.len(), import.added.len());
    assert!(changes.removed.is_empty() && changes.changed.is_empty(), "{changes:?}");
}

#[test]
fn litellm_adds_missing_models_and_lists_what_it_cannot_map() {
    let builtin = Catalog::builtin();
    let import = litellm::import(BUILTIN_CATALOG_TOML, builtin, LITELLM, TODAY).unwrap();
    let updated = Catalog::from_toml(&import.text).unwrap();
    assert_eq!(check_update(builtin, &updated, TODAY, false), Ok(()));
    // Per-token prices become per-1M, exactly.
    let robotics = updated.entry("gemini-robotics-er-2-preview").unwrap();
    assert_eq!(robotics.provider, Provider::Google);
    assert_eq!((robotics.rates.standard.input, robotics.rates.standard.output), (d("1"), d("5")));
    assert_eq!(robotics.rates.standard.cache_read, Some(d("0.1")));
    assert_eq!(robotics.rates.standard.input_audio, None, "audio at the text price is text");
    assert_eq!(robotics.rates.batch.as_ref().map(|b| b.output), Some(d("2.5")));
    assert_eq!((robotics.max_input_tokens, robotics.max_output_tokens), (Some(131_072), Some(65_536)));
    assert!(
        reasons(&import.unmapped, "gemini/gemini-robotics-er-2-preview")[0].contains("search_context_cost_per_query")
    );
    // A long-context tier from `_above_128k_tokens`.
    let exp = updated.entry("gemini-exp-1206").unwrap();
    assert_eq!(exp.rates.long_context.as_ref().map(|l| l.above_prompt_tokens), Some(128_000));
    // Not priced per token: listed.
    assert!(reasons(&import.unmapped, "gpt-4o-transcribe-diarize")[0].contains("mode `audio_transcription`"));
    assert!(import.unmapped.iter().any(|u| u.model == "provider mistral" && u.reason.starts_with("1 model")));
    // Known models agree or are listed with both prices; none is changed.
    assert!(import.unchanged >= 2, "{import:?}");
    assert_eq!(updated.entry("gpt-4o"), builtin.entry("gpt-4o"));
    assert!(!import.added.contains(&"claude-haiku-4-5".to_owned()));
}

#[test]
fn an_import_without_new_models_only_moves_the_date() {
    let builtin = Catalog::builtin();
    let only_known = r#"{"gpt-4o": {"input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05,
        "cache_read_input_token_cost": 1.25e-06, "litellm_provider": "openai", "mode": "chat"}}"#;
    let import = litellm::import(BUILTIN_CATALOG_TOML, builtin, only_known, TODAY).unwrap();
    assert!(import.added.is_empty() && import.unmapped.is_empty() && import.differing.is_empty(), "{import:?}");
    assert_eq!(import.unchanged, 1);
    let updated = Catalog::from_toml(&import.text).unwrap();
    assert!(diff(builtin, &updated).is_empty());
    let wrong = only_known.replace("2.5e-06", "3e-06");
    let import = litellm::import(BUILTIN_CATALOG_TOML, builtin, &wrong, TODAY).unwrap();
    assert_eq!(import.differing.len(), 1);
    assert!(
        import.differing[0].reason.starts_with("LiteLLM: $3/$10 (cache read $1.25); the catalog (gpt-4o): $2.5/$10"),
        "{:?}",
        import.differing
    );
}

#[test]
fn numbers_are_read_exactly() {
    assert_eq!(exact_number("2.5e-06"), Some(d("0.0000025")));
    assert_eq!(exact_number("1E-7"), Some(d("0.0000001")));
    assert_eq!(exact_number("0.1"), Some(d("0.1")));
    assert_eq!(exact_number("\"x\""), None);
}

#[test]
fn a_second_import_builds_on_the_first() {
    let builtin = Catalog::builtin();
    let first = litellm::import(BUILTIN_CATALOG_TOML, builtin, LITELLM, TODAY).unwrap();
    let after_first = Catalog::from_toml(&first.text).unwrap();
    let second = genai_prices::import(&first.text, &after_first, GENAI, TODAY).unwrap();
    let after_second = Catalog::from_toml(&second.text).unwrap();
    assert!(first.added.iter().all(|id| after_second.entry(id).is_some()));
    assert!(second.added.iter().all(|id| !first.added.contains(id)));
    let again = litellm::import(&second.text, &after_second, LITELLM, TODAY).unwrap();
    assert!(again.added.is_empty(), "{:?}", again.added);
    assert!(again.text.contains("code = \"IMPORTLITELLM20261208\"") && !again.text.contains("IMPORTLITELLM20261208B"));
    let robotics = after_second.entry("gemini-robotics-er-2-preview").unwrap();
    assert_eq!(robotics.sources.len(), 1, "{:?}", robotics.sources);
}
