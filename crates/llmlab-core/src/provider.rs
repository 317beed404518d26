//! The LLM providers LLMLab knows the billing rules of.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A provider name as used in events, the catalog and the CLI.
///
/// `google` and `gemini` are the same provider (the Gemini Developer API);
/// any other string is kept as [`Provider::Other`] so events from providers we
/// have no rules for are still stored (and shown as unpriced).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    OpenAi,
    Anthropic,
    Google,
    Other(String),
}

impl Provider {
    /// The canonical lowercase name (`openai`, `anthropic`, `google`, or the other name).
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
            Provider::Google => "google",
            Provider::Other(name) => name,
        }
    }

    /// Parses a user- or SDK-supplied provider name; never fails.
    #[must_use]
    pub fn parse(name: &str) -> Provider {
        let lower = name.trim().to_ascii_lowercase();
        match lower.as_str() {
            "openai" | "azure_openai" | "azure-openai" => Provider::OpenAi,
            "anthropic" | "claude" => Provider::Anthropic,
            "google" | "gemini" | "google-genai" | "google_genai" | "genai" => Provider::Google,
            _ => Provider::Other(lower),
        }
    }

    /// True for the three providers whose usage shapes LLMLab normalizes.
    #[must_use]
    pub fn is_known(&self) -> bool {
        !matches!(self, Provider::Other(_))
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Provider::parse(s))
    }
}

impl Serialize for Provider {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Provider {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Provider::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemini_and_google_are_one_provider() {
        assert_eq!(Provider::parse("gemini"), Provider::Google);
        assert_eq!(Provider::parse(" Google "), Provider::Google);
        assert_eq!(Provider::Google.as_str(), "google");
    }

    #[test]
    fn unknown_providers_are_kept_lowercased() {
        assert_eq!(Provider::parse("Mistral"), Provider::Other("mistral".into()));
        assert!(!Provider::parse("mistral").is_known());
    }
}
