//! The token classes: the one table every list of buckets is derived from.
//!
//! Each row names a class once: its field in [`TokenBuckets`] (which is also
//! its JSON field, its SQL column in `cost_events` and the rollups, and its
//! CSV header), the price class of the catalog it is billed at, the bucket
//! it is an informational part of, and whether the rollup tables keep it.
//! The store's column lists, bulk inserts and rollups, the CSV export, the
//! summary merge and the magnitude checks all iterate [`TokenClass::ALL`].
//! Adding a class is one row here, a migration adding the column, and the
//! field in the API's `TrackEvent` (an exhaustive match points at it).

use serde::{Deserialize, Serialize};

/// No single call has ever used a trillion tokens; a larger count is a bug
/// or garbage. Capping each class per call keeps sums far inside `i64`.
pub const MAX_TOKENS_PER_CALL: u64 = 1_000_000_000_000;

macro_rules! token_classes {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident => $field:ident, catalog: $catalog:expr, part_of: $part_of:expr, rolled_up: $rolled_up:literal;
    )*) => {
        /// Token counts in disjoint billing buckets. Every token a provider
        /// bills is in exactly one of `input_tokens`, `cache_read_tokens`,
        /// `cache_write_tokens`, `cache_write_1h_tokens` and `output_tokens`;
        /// the remaining fields are informational parts of those (see
        /// [`TokenClass::part_of`]) or per-request counts.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct TokenBuckets {
            $($(#[doc = $doc])* pub $field: u64,)*
        }

        /// One token class: a field of [`TokenBuckets`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum TokenClass {
            $($(#[doc = $doc])* $variant,)*
        }

        impl TokenClass {
            /// Every class, in column order.
            pub const ALL: &'static [TokenClass] = &[$(TokenClass::$variant),*];

            /// The field name: JSON field, SQL column and CSV header alike (`input_tokens`).
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self {
                    $(TokenClass::$variant => stringify!($field),)*
                }
            }

            /// The catalog's price class this bucket is billed at (`input`,
            /// `cache_write_5m`, …; `web_search`, `file_search`, … are
            /// per-request fees, see [`TokenClass::is_request_fee`]), or
            /// `None` for a part billed inside its whole (reasoning).
            #[must_use]
            pub const fn catalog_class(self) -> Option<&'static str> {
                match self {
                    $(TokenClass::$variant => $catalog,)*
                }
            }

            /// The bucket this class is an informational part of, if any.
            #[must_use]
            pub const fn part_of(self) -> Option<TokenClass> {
                match self {
                    $(TokenClass::$variant => $part_of,)*
                }
            }

            /// Whether the rollup tables keep a sum of this class.
            #[must_use]
            pub const fn rolled_up(self) -> bool {
                match self {
                    $(TokenClass::$variant => $rolled_up,)*
                }
            }

            /// This class's count in `buckets`.
            #[must_use]
            pub const fn of(self, buckets: &TokenBuckets) -> u64 {
                match self {
                    $(TokenClass::$variant => buckets.$field,)*
                }
            }

            /// This class's count in `buckets`, to set it.
            pub fn of_mut(self, buckets: &mut TokenBuckets) -> &mut u64 {
                match self {
                    $(TokenClass::$variant => &mut buckets.$field,)*
                }
            }
        }
    };
}

token_classes! {
    /// Uncached input tokens.
    Input => input_tokens, catalog: Some("input"), part_of: None, rolled_up: true;
    /// Input tokens read from the prompt cache.
    CacheRead => cache_read_tokens, catalog: Some("cache_read"), part_of: None, rolled_up: true;
    /// Prompt-cache writes with the default TTL (Anthropic 5 minutes).
    CacheWrite => cache_write_tokens, catalog: Some("cache_write_5m"), part_of: None, rolled_up: true;
    /// Prompt-cache writes with the extended TTL (Anthropic 1 hour, OpenAI 12 hours).
    CacheWrite1h => cache_write_1h_tokens, catalog: Some("cache_write_1h"), part_of: None, rolled_up: true;
    /// All billed output, reasoning and audio included.
    Output => output_tokens, catalog: Some("output"), part_of: None, rolled_up: true;
    /// Reasoning/thinking tokens: part of `output_tokens`, not extra.
    Reasoning => reasoning_tokens, catalog: None, part_of: Some(TokenClass::Output), rolled_up: true;
    /// Audio tokens: part of `input_tokens`, priced at the audio rate where one exists.
    InputAudio => input_audio_tokens, catalog: Some("input_audio"), part_of: Some(TokenClass::Input), rolled_up: false;
    /// Audio tokens: part of `cache_read_tokens`, priced at the cached-audio rate where one exists (Gemini).
    CacheReadAudio => cache_read_audio_tokens, catalog: Some("cache_read_audio"), part_of: Some(TokenClass::CacheRead), rolled_up: false;
    /// Audio tokens: part of `output_tokens`, priced at the audio rate where one exists.
    OutputAudio => output_audio_tokens, catalog: Some("output_audio"), part_of: Some(TokenClass::Output), rolled_up: false;
    /// Web searches billed per search: Anthropic's `web_search` server tool, OpenAI's executed
    /// `web_search_call`s (and one per call of a chat search model), Gemini's grounding queries.
    WebSearchRequests => web_search_requests, catalog: Some("web_search"), part_of: None, rolled_up: true;
    /// Anthropic `web_fetch` server-tool fetches (no fee beyond tokens: priced at `0` in the catalog).
    WebFetchRequests => web_fetch_requests, catalog: Some("web_fetch"), part_of: None, rolled_up: true;
    /// OpenAI `file_search_call`s executed by the Responses API, billed per call.
    FileSearchCalls => file_search_calls, catalog: Some("file_search"), part_of: None, rolled_up: true;
    /// OpenAI code-interpreter containers the response ran in, billed per container session.
    ContainerSessions => container_sessions, catalog: Some("container_session"), part_of: None, rolled_up: true;
    /// Gemini responses grounded with Google Search, billed per grounded prompt (Gemini 2.x).
    GroundedPrompts => grounded_prompts, catalog: Some("grounded_prompt"), part_of: None, rolled_up: true;
}

impl TokenClass {
    /// Whether this class counts requests billed at a per-request fee
    /// (`request_fees` in the catalog) rather than tokens.
    #[must_use]
    pub const fn is_request_fee(self) -> bool {
        matches!(
            self,
            TokenClass::WebSearchRequests
                | TokenClass::WebFetchRequests
                | TokenClass::FileSearchCalls
                | TokenClass::ContainerSessions
                | TokenClass::GroundedPrompts
        )
    }

    /// The classes the rollup tables keep, in column order.
    pub fn rolled_up_classes() -> impl Iterator<Item = TokenClass> {
        TokenClass::ALL.iter().copied().filter(|c| c.rolled_up())
    }
}

/// A count no real call can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{}` is {count}, more than one call can use ({MAX_TOKENS_PER_CALL})", class.name())]
pub struct TooManyTokens {
    pub class: TokenClass,
    pub count: u64,
}

impl TokenBuckets {
    /// Each class with its count, in column order.
    pub fn counts(&self) -> impl Iterator<Item = (TokenClass, u64)> + '_ {
        TokenClass::ALL.iter().map(move |&class| (class, class.of(self)))
    }

    /// Rejects counts no real call can have; see [`MAX_TOKENS_PER_CALL`].
    pub fn check_magnitude(&self) -> Result<(), TooManyTokens> {
        match self.counts().find(|&(_, count)| count > MAX_TOKENS_PER_CALL) {
            Some((class, count)) => Err(TooManyTokens { class, count }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_a_distinct_name_and_a_whole_that_is_not_a_part() {
        let mut names: Vec<&str> = TokenClass::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TokenClass::ALL.len());
        for class in TokenClass::ALL {
            if let Some(whole) = class.part_of() {
                assert_eq!(whole.part_of(), None, "{class:?} is part of a part");
            }
        }
    }

    #[test]
    fn the_json_fields_are_the_class_names() {
        let mut buckets = TokenBuckets::default();
        for (i, class) in TokenClass::ALL.iter().enumerate() {
            *class.of_mut(&mut buckets) = i as u64 + 1;
        }
        let json = serde_json::to_value(buckets).unwrap();
        for (i, class) in TokenClass::ALL.iter().enumerate() {
            assert_eq!(json[class.name()], i as u64 + 1, "{class:?}");
        }
    }

    #[test]
    fn magnitude_errors_name_the_class() {
        let buckets = TokenBuckets { cache_read_tokens: MAX_TOKENS_PER_CALL + 1, ..TokenBuckets::default() };
        let error = buckets.check_magnitude().unwrap_err();
        assert_eq!(error.class, TokenClass::CacheRead);
        assert!(error.to_string().starts_with("`cache_read_tokens` is 1000000000001"), "{error}");
    }
}
