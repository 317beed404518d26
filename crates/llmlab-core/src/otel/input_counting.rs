//! Whether a span's input token count includes its cached tokens: the one
//! table, by instrumentation (scope name, version) and, where the
//! instrumentation passes a provider's own count through, by provider.
//!
//! The GenAI semantic conventions say `gen_ai.usage.input_tokens` is every
//! input token, cached or not, and most instrumentations follow them; but an
//! instrumentation that copies Anthropic's `input_tokens` (which excludes the
//! cache reads and writes) reports fewer, and pricing its cache tokens again
//! as input would double count them (the Langfuse reports #12306, #17117).
//! Every row below was read in that instrumentation's source at the version
//! named in `verified`; a span from an instrumentation with no row follows the
//! conventions (includes), unless its counts contradict that (input smaller
//! than its cache tokens), which [`super::map_span`] notes.

/// How an input count relates to the cache counts beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputCounting {
    /// Input = uncached + cache reads + cache writes (the conventions).
    IncludesCache,
    /// Input = uncached only (Anthropic's own `input_tokens`).
    ExcludesCache,
}

/// One row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountingRow {
    /// The instrumentation scope's name, exactly.
    pub scope: &'static str,
    /// The first version the row holds for (`None`: every version).
    pub since: Option<&'static str>,
    /// The provider the row holds for, by the start of its name (`None`: any provider).
    pub provider: Option<&'static str>,
    pub counting: InputCounting,
    /// The package, version and code the row was read from.
    pub verified: &'static str,
}

/// The table, most specific rows first (a provider row before its scope's catch-all).
pub static TABLE: &[CountingRow] = &[
    CountingRow {
        // The shared GenAI handler makes the spans of the official instrumentations built on it
        // (openai-v2 2.4b0, google-genai 1.1b1), under its own scope name.
        scope: "opentelemetry.util.genai.handler",
        since: None,
        provider: None,
        counting: InputCounting::IncludesCache,
        verified: "opentelemetry-util-genai 1.1b0 writes the instrumentation's input_tokens: openai-v2 2.4b0 \
                   patch.py sets usage.prompt_tokens, google-genai 1.1b1 generate_content.py sets \
                   usage_metadata.prompt_token_count; both count cached tokens",
    },
    CountingRow {
        scope: "opentelemetry.instrumentation.openai_v2",
        since: None,
        provider: None,
        counting: InputCounting::IncludesCache,
        verified: "opentelemetry-instrumentation-openai-v2 2.4b0, patch.py: input_tokens = usage.prompt_tokens \
                   (OpenAI's prompt_tokens counts prompt_tokens_details.cached_tokens)",
    },
    CountingRow {
        scope: "opentelemetry.instrumentation.anthropic",
        since: None,
        provider: None,
        counting: InputCounting::IncludesCache,
        verified: "opentelemetry-instrumentation-anthropic (OpenLLMetry) 0.38.0 and 0.62.4, __init__.py and \
                   streaming.py: input_tokens = prompt_tokens + cache_read_tokens + cache_creation_tokens",
    },
    CountingRow {
        scope: "opentelemetry.instrumentation.google_genai",
        since: None,
        provider: None,
        counting: InputCounting::IncludesCache,
        verified: "opentelemetry-instrumentation-google-genai 1.1b1, generate_content.py: input_tokens = \
                   usage_metadata.prompt_token_count (Gemini's prompt count includes cached_content_token_count)",
    },
    CountingRow {
        scope: "openinference.instrumentation.openai",
        since: None,
        provider: None,
        counting: InputCounting::IncludesCache,
        verified: "openinference-instrumentation-openai 0.1.66, _response_attributes_extractor.py: \
                   llm.token_count.prompt = usage.prompt_tokens",
    },
    CountingRow {
        scope: "openinference.instrumentation.anthropic",
        since: None,
        provider: None,
        counting: InputCounting::IncludesCache,
        verified: "openinference-instrumentation-anthropic 0.1.18 and 3.1.0, _wrappers.py / _utils.py: \
                   llm.token_count.prompt = input_tokens + cache_creation_input_tokens + cache_read_input_tokens \
                   (0.1.18's streams count input_tokens alone but then report no cache counts either)",
    },
    CountingRow {
        scope: "openlit.otel.tracing",
        since: None,
        provider: Some("anthropic"),
        counting: InputCounting::ExcludesCache,
        verified: "openlit 1.45.0, instrumentation/anthropic/utils.py: gen_ai.usage.input_tokens = \
                   usage.input_tokens (\"Anthropic's API reports input_tokens exclusive of cache read / creation \
                   tokens\"), the cache counts set beside it",
    },
    CountingRow {
        scope: "openlit.otel.tracing",
        since: None,
        provider: Some("openai"),
        counting: InputCounting::IncludesCache,
        verified: "openlit 1.45.0, instrumentation/openai/utils.py: input tokens = usage.prompt_tokens, cache reads = \
                   prompt_tokens_details.cached_tokens",
    },
    CountingRow {
        scope: "ai",
        since: None,
        provider: Some("anthropic"),
        counting: InputCounting::ExcludesCache,
        verified: "Vercel AI SDK ai 5.0.285 with @ai-sdk/anthropic 2.0.112: ai.usage.inputTokens = \
                   usage.input_tokens, ai.usage.cachedInputTokens = cache_read_input_tokens",
    },
    CountingRow {
        scope: "ai",
        since: None,
        provider: None,
        counting: InputCounting::IncludesCache,
        verified: "Vercel AI SDK ai 5.0.285 with @ai-sdk/openai 2.x: ai.usage.inputTokens = usage.prompt_tokens \
                   (Responses API: input_tokens), cachedInputTokens = its cached_tokens",
    },
];

/// How the input count of a span from this instrumentation and provider
/// relates to its cache counts, and the row that says so (`None`: no row,
/// the conventions' rule).
#[must_use]
pub fn counting_for(scope: &str, version: &str, provider: &str) -> (InputCounting, Option<&'static CountingRow>) {
    TABLE
        .iter()
        .find(|row| {
            row.scope == scope
                && row.since.is_none_or(|since| version_at_least(version, since))
                && row.provider.is_none_or(|p| provider.starts_with(p))
        })
        .map_or((InputCounting::IncludesCache, None), |row| (row.counting, Some(row)))
}

/// Whether dotted version `version` is at least `min`, comparing the leading
/// digits of each part (`2.4b0` is 2.4); an unreadable version is not.
fn version_at_least(version: &str, min: &str) -> bool {
    let parts = |v: &str| -> Option<Vec<u64>> {
        v.split('.')
            .map(|part| {
                let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .collect()
    };
    match (parts(version), parts(min)) {
        (Some(version), Some(min)) => version >= min,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counting(scope: &str, version: &str, provider: &str) -> InputCounting {
        counting_for(scope, version, provider).0
    }

    #[test]
    fn the_shared_genai_handler_includes_cache() {
        assert_eq!(counting("opentelemetry.util.genai.handler", "1.1b0", "openai"), InputCounting::IncludesCache);
        assert_eq!(counting("opentelemetry.util.genai.handler", "1.1b0", "gemini"), InputCounting::IncludesCache);
    }

    #[test]
    fn openai_v2_includes_cache() {
        assert_eq!(
            counting("opentelemetry.instrumentation.openai_v2", "2.4b0", "openai"),
            InputCounting::IncludesCache
        );
    }

    #[test]
    fn openllmetry_anthropic_includes_cache() {
        assert_eq!(
            counting("opentelemetry.instrumentation.anthropic", "0.62.4", "anthropic"),
            InputCounting::IncludesCache
        );
        assert_eq!(
            counting("opentelemetry.instrumentation.anthropic", "0.38.0", "anthropic"),
            InputCounting::IncludesCache
        );
    }

    #[test]
    fn google_genai_includes_cache() {
        assert_eq!(
            counting("opentelemetry.instrumentation.google_genai", "1.1b1", "gemini"),
            InputCounting::IncludesCache
        );
    }

    #[test]
    fn openinference_openai_includes_cache() {
        assert_eq!(counting("openinference.instrumentation.openai", "0.1.66", "openai"), InputCounting::IncludesCache);
    }

    #[test]
    fn openinference_anthropic_includes_cache() {
        assert_eq!(
            counting("openinference.instrumentation.anthropic", "3.1.0", "anthropic"),
            InputCounting::IncludesCache
        );
    }

    #[test]
    fn openlit_anthropic_excludes_cache() {
        assert_eq!(counting("openlit.otel.tracing", "1.45.0", "anthropic"), InputCounting::ExcludesCache);
    }

    #[test]
    fn openlit_openai_includes_cache() {
        assert_eq!(counting("openlit.otel.tracing", "1.45.0", "openai"), InputCounting::IncludesCache);
    }

    #[test]
    fn vercel_ai_sdk_anthropic_excludes_cache() {
        let (rule, row) = counting_for("ai", "", "anthropic.messages");
        assert_eq!(rule, InputCounting::ExcludesCache);
        assert_eq!(row.map(|r| r.provider), Some(Some("anthropic")));
    }

    #[test]
    fn vercel_ai_sdk_other_providers_include_cache() {
        let (rule, row) = counting_for("ai", "", "openai.chat");
        assert_eq!(rule, InputCounting::IncludesCache);
        assert_eq!(row.map(|r| r.provider), Some(None));
    }

    #[test]
    fn an_instrumentation_without_a_row_follows_the_conventions() {
        assert_eq!(counting_for("my.homegrown.tracing", "1.0", "openai"), (InputCounting::IncludesCache, None));
    }

    #[test]
    fn every_row_is_reachable() {
        for (i, row) in TABLE.iter().enumerate() {
            let provider = row.provider.unwrap_or("some-provider");
            let (_, found) = counting_for(row.scope, row.since.unwrap_or("0"), provider);
            assert!(
                found.is_some_and(|f| *f == TABLE[i] && std::ptr::eq(f, std::ptr::from_ref(&TABLE[i]))),
                "row {i} ({}) is shadowed",
                row.scope
            );
        }
    }

    #[test]
    fn versions_compare_by_their_numbers() {
        assert!(version_at_least("0.62.4", "0.40"));
        assert!(version_at_least("2.4b0", "2.4"));
        assert!(!version_at_least("0.9.1", "0.10"));
        assert!(!version_at_least("dev", "1.0"));
    }
}
