//! The LLM providers LLMLab knows the billing rules of.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A provider name as used in events, the catalog and the CLI.
///
/// `google` and `gemini` are the same provider (the Gemini Developer API).
/// `google` is the one name stored and shown (the catalog, stored events and
/// the SDK's responses use it); `gemini` (the proxy route `/proxy/gemini/…`
/// and the product's name) is accepted as an alias on every input, because
/// every input goes through [`Provider::parse`].
/// Any other string is kept as [`Provider::Other`] so events from providers we
/// have no rules for are still stored (and shown as unpriced until priced).
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

    /// For a provider that is not built in, the built-in name it is most
    /// likely a typo of (`opena` → `openai`), or `None` when it looks like a
    /// provider of its own (`mistral`, `groq`): close by edit distance, at
    /// most one edit in three letters.
    #[must_use]
    pub fn suggestion(&self) -> Option<&'static str> {
        let Provider::Other(name) = self else { return None };
        SUGGESTED_NAMES
            .iter()
            .map(|candidate| (strsim::damerau_levenshtein(name, candidate), *candidate))
            .filter(|&(distance, candidate)| distance > 0 && distance <= candidate.len() / 3)
            .min_by_key(|&(distance, _)| distance)
            .map(|(_, candidate)| candidate)
    }
}

/// The built-in names a typo is compared with: each provider's shown name,
/// and `gemini`, the alias users type most.
const SUGGESTED_NAMES: [&str; 4] = ["openai", "anthropic", "google", "gemini"];

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
    fn a_typo_of_a_built_in_name_gets_the_nearest_one_and_other_providers_none() {
        assert_eq!(Provider::parse("opena").suggestion(), Some("openai"));
        assert_eq!(Provider::parse("OpenAl").suggestion(), Some("openai"));
        assert_eq!(Provider::parse("antropic").suggestion(), Some("anthropic"));
        assert_eq!(Provider::parse("gemni").suggestion(), Some("gemini"));
        assert_eq!(Provider::parse("gogle").suggestion(), Some("google"));
        for own in ["mistral", "groq", "cohere", "openrouter", "xai", "deepseek", "acme"] {
            assert_eq!(Provider::parse(own).suggestion(), None, "{own}");
        }
        assert_eq!(Provider::OpenAi.suggestion(), None);
    }

    #[test]
    fn unknown_providers_are_kept_lowercased() {
        assert_eq!(Provider::parse("Mistral"), Provider::Other("mistral".into()));
        assert!(!Provider::parse("mistral").is_known());
    }
}
