//! What a provider says it served beyond the usage object: the tier a
//! response header reports, the host a call went to, and how that compares
//! with what the request asked for.
//!
//! - Gemini reports a priority call that fell back to standard (over the
//!   priority limit) only in the `x-gemini-service-tier` response header.
//! - OpenAI data residency is chosen by the host (`eu.api.openai.com`, …);
//!   newer models bill it with an uplift (the catalog's `regional_processing`).
//! - A response's tier wins over the request's (reference G14); when they
//!   differ, the event's note says so, so a priority request billed at
//!   standard is visible rather than silently cheaper.

use crate::provider::Provider;
use crate::usage::ServiceTier;

/// The response header in which Gemini names the tier that served a call.
pub const GEMINI_TIER_HEADER: &str = "x-gemini-service-tier";

/// OpenAI's regional API hosts (data residency): `<region>.api.openai.com`.
const OPENAI_REGIONAL_SUFFIX: &str = ".api.openai.com";

/// True when `host` is one of OpenAI's regional (data residency) API hosts,
/// such as `eu.api.openai.com`; `api.openai.com` itself is global.
#[must_use]
pub fn is_regional_host(provider: &Provider, host: &str) -> bool {
    if *provider != Provider::OpenAi {
        return false;
    }
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    host.strip_suffix(OPENAI_REGIONAL_SUFFIX)
        .is_some_and(|region| !region.is_empty() && region.bytes().all(|b| b.is_ascii_lowercase()))
}

/// The host of an `http(s)://host[:port]/…` base URL, lower-cased.
#[must_use]
pub fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next()?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// The tier a request body asks for: `service_tier` (OpenAI, Anthropic,
/// Gemini's REST field in snake case) or `serviceTier` (Gemini), at the top
/// level or in Gemini's `generationConfig`. `None` when the body names none
/// or is not JSON.
#[must_use]
pub fn requested_tier(request_body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Tiered {
        #[serde(alias = "serviceTier")]
        service_tier: Option<String>,
        #[serde(rename = "generationConfig", alias = "generation_config")]
        generation_config: Option<Box<Tiered>>,
    }
    // Most requests name no tier: skip the parse unless the field's name is there.
    let named = |field: &[u8]| memchr::memmem::find(request_body, field).is_some();
    if !named(b"service_tier") && !named(b"serviceTier") {
        return None;
    }
    let body: Tiered = serde_json::from_slice(request_body).ok()?;
    body.service_tier.or_else(|| body.generation_config.and_then(|c| c.service_tier))
}

/// The note for a call served on another tier than the one requested, or
/// `None` when they agree or the request left the choice to the provider
/// (`auto`, or no tier at all).
#[must_use]
pub fn tier_mismatch_note(requested: &str, served: ServiceTier) -> Option<String> {
    let asked = requested.trim().trim_start_matches("SERVICE_TIER_").to_ascii_lowercase();
    if asked.is_empty() || asked == "auto" || asked == "unspecified" {
        return None;
    }
    let asked_tier = match asked.as_str() {
        // Anthropic: never use priority capacity.
        "standard_only" => ServiceTier::Standard,
        other => ServiceTier::from_name(other).0,
    };
    (asked_tier != served).then(|| {
        format!(
            "the request asked for the `{requested}` tier, but the response reports {served}: priced at {served} rates"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_openai_regional_hosts_are_regional() {
        for host in ["eu.api.openai.com", "us.api.openai.com", "JP.API.OPENAI.COM", "au.api.openai.com."] {
            assert!(is_regional_host(&Provider::OpenAi, host), "{host}");
        }
        for host in
            ["api.openai.com", "eu.api.openai.com.evil.test", "127.0.0.1", "x.y.api.openai.com", ".api.openai.com"]
        {
            assert!(!is_regional_host(&Provider::OpenAi, host), "{host}");
        }
        assert!(!is_regional_host(&Provider::Anthropic, "eu.api.openai.com"));
    }

    #[test]
    fn hosts_are_read_from_base_urls() {
        assert_eq!(host_of("https://eu.api.openai.com/v1").as_deref(), Some("eu.api.openai.com"));
        assert_eq!(host_of("http://127.0.0.1:8080").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_of("http://user:pw@Gateway.Example:443/x").as_deref(), Some("gateway.example"));
        assert_eq!(host_of("http://[::1]:9/").as_deref(), Some("[::1]"));
        assert_eq!(host_of("https:///v1"), None);
    }

    #[test]
    fn the_requested_tier_is_read_wherever_each_provider_puts_it() {
        assert_eq!(requested_tier(br#"{"model":"gpt-5","service_tier":"priority"}"#).as_deref(), Some("priority"));
        assert_eq!(requested_tier(br#"{"serviceTier":"priority","contents":[]}"#).as_deref(), Some("priority"));
        let gemini = br#"{"contents":[],"generationConfig":{"serviceTier":"SERVICE_TIER_PRIORITY"}}"#;
        assert_eq!(requested_tier(gemini).as_deref(), Some("SERVICE_TIER_PRIORITY"));
        assert_eq!(requested_tier(br#"{"model":"gpt-5"}"#), None);
        assert_eq!(requested_tier(b"not json"), None);
    }

    #[test]
    fn a_tier_other_than_the_requested_one_is_noted() {
        let note = tier_mismatch_note("priority", ServiceTier::Standard).unwrap();
        assert!(note.contains("`priority`") && note.contains("standard"), "{note}");
        assert!(tier_mismatch_note("SERVICE_TIER_PRIORITY", ServiceTier::Standard).is_some());
        assert!(tier_mismatch_note("fast", ServiceTier::Priority).is_none(), "fast is OpenAI's name for priority");
        assert!(tier_mismatch_note("default", ServiceTier::Standard).is_none());
        assert!(tier_mismatch_note("auto", ServiceTier::Priority).is_none(), "auto leaves the choice to the provider");
        assert!(tier_mismatch_note("standard_only", ServiceTier::Standard).is_none());
        assert!(tier_mismatch_note("flex", ServiceTier::Standard).is_some());
    }
}
