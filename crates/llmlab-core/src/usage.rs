//! Normalized token usage: the disjoint buckets of SPEC §11 and what we know
//! about how a call was billed.

use std::fmt;
use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};

use crate::provider::Provider;

pub use crate::token_class::{MAX_TOKENS_PER_CALL, TokenBuckets, TokenClass, TooManyTokens};

impl TokenBuckets {
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
        for (part, count) in self.counts() {
            let Some(whole) = part.part_of() else { continue };
            let whole_count = whole.of(self);
            if count > whole_count {
                return Err(Anomaly::new(
                    AnomalyKind::PartExceedsWhole,
                    format!("{} ({count}) is larger than {} ({whole_count}) it is part of", part.name(), whole.name()),
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
        for (class, count) in rhs.counts() {
            *class.of_mut(self) += count;
        }
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
    /// Reads a tier as providers and callers name it (any case): `batch`,
    /// `flex` and `priority` are theirs, and `fast` is OpenAI's 2026 name for
    /// priority processing (same prices); `standard`, `default`, `auto`,
    /// `scale`, `on_demand` and an empty name bill at standard rates. Any
    /// other name (a tier newer than the catalog, such as OpenAI's
    /// `ultrafast`) bills at standard rates too, and the note says so:
    /// providers add tiers faster than catalogs. The one place tier names are mapped.
    #[must_use]
    pub fn from_name(name: &str) -> (ServiceTier, Option<String>) {
        let name = name.trim();
        match name.to_ascii_lowercase().as_str() {
            "batch" => (ServiceTier::Batch, None),
            "flex" => (ServiceTier::Flex, None),
            "priority" | "fast" => (ServiceTier::Priority, None),
            "standard" | "default" | "auto" | "scale" | "on_demand" | "" => (ServiceTier::Standard, None),
            _ => (
                ServiceTier::Standard,
                Some(format!("service tier `{name}` has no catalog prices; priced at standard rates")),
            ),
        }
    }

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

/// Price uplifts a call was billed with, as the response (or the host it was
/// sent to) shows them. Each multiplies the token prices by the catalog's
/// factor for the model ([`crate::catalog::UpliftPrices`]); a model without
/// one is priced without it and the note says so.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Uplifts {
    /// Anthropic fast mode (`usage.speed: "fast"`).
    pub fast_mode: bool,
    /// Anthropic US-only inference (`usage.inference_geo: "us"`).
    pub us_inference: bool,
    /// OpenAI data residency: the call went to a regional host (`eu.api.openai.com`, …).
    pub regional_processing: bool,
}

impl Uplifts {
    /// True when the call was billed without any uplift.
    #[must_use]
    pub fn is_none(&self) -> bool {
        *self == Uplifts::default()
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
    /// How messages name it: `OpenAI chat completion`, `Anthropic message`, …
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            ApiKind::OpenAiChat => "OpenAI chat completion",
            ApiKind::OpenAiResponses => "OpenAI Responses API",
            ApiKind::OpenAiEmbeddings => "OpenAI embeddings",
            ApiKind::AnthropicMessages => "Anthropic message",
            ApiKind::GeminiGenerateContent => "Gemini generateContent",
        }
    }

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
    /// Price uplifts the response shows (fast mode, US-only inference, data residency).
    pub uplifts: Uplifts,
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
            uplifts: Uplifts::default(),
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
    fn tier_names_map_once_and_unknown_ones_are_noted() {
        assert_eq!(ServiceTier::from_name("Priority"), (ServiceTier::Priority, None));
        assert_eq!(ServiceTier::from_name(" flex "), (ServiceTier::Flex, None));
        assert_eq!(ServiceTier::from_name("auto"), (ServiceTier::Standard, None));
        for tier in [ServiceTier::Standard, ServiceTier::Batch, ServiceTier::Flex, ServiceTier::Priority] {
            assert_eq!(ServiceTier::from_name(tier.as_str()), (tier, None), "stored names read back");
        }
        // OpenAI renamed priority processing `fast` in 2026: the same prices.
        assert_eq!(ServiceTier::from_name("fast"), (ServiceTier::Priority, None));
        let (tier, note) = ServiceTier::from_name("ultrafast");
        assert_eq!(tier, ServiceTier::Standard);
        assert!(note.unwrap().contains("`ultrafast`"));
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
