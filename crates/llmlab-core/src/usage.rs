//! Normalized token usage: the disjoint buckets of SPEC §11 and what we know
//! about how a call was billed.

use std::fmt;
use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};

use crate::provider::Provider;

/// Token counts in disjoint billing buckets. Every token a provider bills is
/// in exactly one of `input_tokens`, `cache_read_tokens`, `cache_write_tokens`,
/// `cache_write_1h_tokens` and `output_tokens`; the remaining fields are
/// informational parts of those (`reasoning_tokens` and `output_audio_tokens`
/// of output, `input_audio_tokens` of uncached input, `cache_read_audio_tokens`
/// of cache reads) or per-request counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenBuckets {
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read_tokens: u64,
    /// Prompt-cache writes with the default TTL (Anthropic 5 minutes).
    pub cache_write_tokens: u64,
    /// Prompt-cache writes with the extended TTL (Anthropic 1 hour, OpenAI 12 hours).
    pub cache_write_1h_tokens: u64,
    /// All billed output, reasoning and audio included.
    pub output_tokens: u64,
    /// Reasoning/thinking tokens: part of `output_tokens`, not extra.
    pub reasoning_tokens: u64,
    /// Audio tokens: part of `input_tokens`, priced at the audio rate where one exists.
    pub input_audio_tokens: u64,
    /// Audio tokens: part of `cache_read_tokens`, priced at the cached-audio rate where one exists (Gemini).
    pub cache_read_audio_tokens: u64,
    /// Audio tokens: part of `output_tokens`, priced at the audio rate where one exists.
    pub output_audio_tokens: u64,
    /// Server-side web searches billed per request (Anthropic).
    pub web_search_requests: u64,
}

/// No single call has ever used a trillion tokens; a larger count is a bug
/// or garbage, and would overflow the database's 64-bit sums.
pub const MAX_TOKENS_PER_CALL: u64 = 1_000_000_000_000;

impl TokenBuckets {
    /// Rejects counts no real call can have; see [`MAX_TOKENS_PER_CALL`].
    pub fn check_magnitude(&self) -> Result<(), String> {
        let fields = [
            ("input_tokens", self.input_tokens),
            ("cache_read_tokens", self.cache_read_tokens),
            ("cache_write_tokens", self.cache_write_tokens),
            ("cache_write_1h_tokens", self.cache_write_1h_tokens),
            ("output_tokens", self.output_tokens),
            ("reasoning_tokens", self.reasoning_tokens),
            ("input_audio_tokens", self.input_audio_tokens),
            ("cache_read_audio_tokens", self.cache_read_audio_tokens),
            ("output_audio_tokens", self.output_audio_tokens),
            ("web_search_requests", self.web_search_requests),
        ];
        match fields.into_iter().find(|(_, n)| *n > MAX_TOKENS_PER_CALL) {
            Some((name, n)) => Err(format!("`{name}` is {n}, more than one call can use ({MAX_TOKENS_PER_CALL})")),
            None => Ok(()),
        }
    }

    /// The prompt size that long-context thresholds are measured on: every
    /// input token, cached or not (see the catalog header).
    #[must_use]
    pub fn prompt_tokens(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.cache_read_tokens)
            .saturating_add(self.cache_write_tokens)
            .saturating_add(self.cache_write_1h_tokens)
    }

    /// Every billed token.
    #[must_use]
    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens().saturating_add(self.output_tokens)
    }

    /// Checks the "part of" relations; the first broken one is returned.
    pub fn check_parts(&self) -> Result<(), Anomaly> {
        let parts = [
            ("reasoning_tokens", self.reasoning_tokens, "output_tokens", self.output_tokens),
            ("output_audio_tokens", self.output_audio_tokens, "output_tokens", self.output_tokens),
            ("input_audio_tokens", self.input_audio_tokens, "input_tokens", self.input_tokens),
            ("cache_read_audio_tokens", self.cache_read_audio_tokens, "cache_read_tokens", self.cache_read_tokens),
        ];
        for (part, part_value, whole, whole_value) in parts {
            if part_value > whole_value {
                return Err(Anomaly::new(
                    AnomalyKind::PartExceedsWhole,
                    format!("{part} ({part_value}) is larger than {whole} ({whole_value}) it is part of"),
                ));
            }
        }
        Ok(())
    }
}

impl Add for TokenBuckets {
    type Output = TokenBuckets;
    fn add(mut self, rhs: TokenBuckets) -> TokenBuckets {
        self += rhs;
        self
    }
}

impl AddAssign for TokenBuckets {
    fn add_assign(&mut self, rhs: TokenBuckets) {
        self.input_tokens += rhs.input_tokens;
        self.cache_read_tokens += rhs.cache_read_tokens;
        self.cache_write_tokens += rhs.cache_write_tokens;
        self.cache_write_1h_tokens += rhs.cache_write_1h_tokens;
        self.output_tokens += rhs.output_tokens;
        self.reasoning_tokens += rhs.reasoning_tokens;
        self.input_audio_tokens += rhs.input_audio_tokens;
        self.cache_read_audio_tokens += rhs.cache_read_audio_tokens;
        self.output_audio_tokens += rhs.output_audio_tokens;
        self.web_search_requests += rhs.web_search_requests;
    }
}

/// The processing tier a call was billed on, as the response reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceTier {
    #[default]
    Standard,
    Batch,
    Flex,
    Priority,
}

impl ServiceTier {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceTier::Standard => "standard",
            ServiceTier::Batch => "batch",
            ServiceTier::Flex => "flex",
            ServiceTier::Priority => "priority",
        }
    }
}

impl fmt::Display for ServiceTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which provider API produced a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ApiKind {
    #[serde(rename = "openai.chat")]
    OpenAiChat,
    #[serde(rename = "openai.responses")]
    OpenAiResponses,
    #[serde(rename = "openai.embeddings")]
    OpenAiEmbeddings,
    #[serde(rename = "anthropic.messages")]
    AnthropicMessages,
    #[serde(rename = "gemini.generate_content")]
    GeminiGenerateContent,
}

impl ApiKind {
    /// The wire name, e.g. `openai.chat`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKind::OpenAiChat => "openai.chat",
            ApiKind::OpenAiResponses => "openai.responses",
            ApiKind::OpenAiEmbeddings => "openai.embeddings",
            ApiKind::AnthropicMessages => "anthropic.messages",
            ApiKind::GeminiGenerateContent => "gemini.generate_content",
        }
    }

    #[must_use]
    pub fn provider(self) -> Provider {
        match self {
            ApiKind::OpenAiChat | ApiKind::OpenAiResponses | ApiKind::OpenAiEmbeddings => Provider::OpenAi,
            ApiKind::AnthropicMessages => Provider::Anthropic,
            ApiKind::GeminiGenerateContent => Provider::Google,
        }
    }
}

/// What kind of inconsistency a usage object had.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// A bucket is larger than the reported total it is part of.
    BucketExceedsTotal,
    /// An informational part (reasoning, audio) is larger than its bucket.
    PartExceedsWhole,
    /// Two fields that must agree (a cache-write total and its TTL split) do not.
    Inconsistent,
}

/// A usage object that contradicts itself. An event with an anomaly is stored
/// with its raw usage but not priced: a wrong bill is worse than no bill.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub message: String,
}

impl Anomaly {
    #[must_use]
    pub fn new(kind: AnomalyKind, message: impl Into<String>) -> Self {
        Anomaly { kind, message: message.into() }
    }
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The usage of one call, normalized.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NormalizedUsage {
    pub provider: Provider,
    pub api: Option<ApiKind>,
    /// The model the response says served the call (may be a dated snapshot).
    pub model: Option<String>,
    pub buckets: TokenBuckets,
    pub service_tier: ServiceTier,
    /// Contradictions found; when not empty the call must not be priced.
    pub anomalies: Vec<Anomaly>,
    /// Facts worth showing that do not block pricing.
    pub notes: Vec<String>,
}

impl NormalizedUsage {
    /// Usage stated directly as buckets (by an SDK or a user), for `provider`.
    #[must_use]
    pub fn from_buckets(provider: Provider, model: Option<String>, buckets: TokenBuckets) -> Self {
        let mut usage = NormalizedUsage {
            provider,
            api: None,
            model,
            buckets,
            service_tier: ServiceTier::Standard,
            anomalies: Vec::new(),
            notes: Vec::new(),
        };
        if let Err(anomaly) = buckets.check_parts() {
            usage.anomalies.push(anomaly);
        }
        usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_tokens_count_every_input_bucket() {
        let b = TokenBuckets {
            input_tokens: 50,
            cache_read_tokens: 10_000,
            cache_write_tokens: 1_500,
            cache_write_1h_tokens: 500,
            output_tokens: 300,
            ..TokenBuckets::default()
        };
        assert_eq!(b.prompt_tokens(), 12_050);
        assert_eq!(b.total_tokens(), 12_350);
    }

    #[test]
    fn reasoning_larger_than_output_is_an_anomaly() {
        let b = TokenBuckets { output_tokens: 10, reasoning_tokens: 11, ..TokenBuckets::default() };
        assert_eq!(b.check_parts().unwrap_err().kind, AnomalyKind::PartExceedsWhole);
    }

    #[test]
    fn unknown_bucket_names_are_rejected() {
        let err = serde_json::from_str::<TokenBuckets>(r#"{"input_tokenz": 1}"#).unwrap_err();
        assert!(err.to_string().contains("input_tokenz"));
    }
}
