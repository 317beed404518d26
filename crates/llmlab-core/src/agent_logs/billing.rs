//! Whether an agent's calls are billed to an API key or covered by a
//! subscription, from which kind of login the agent has (its auth file).
//!
//! Only the KIND of login is read: the structs below declare no field that
//! holds a secret's value (tokens and keys are matched as "present", never
//! kept), and nothing here is logged or sent.
//! - Claude Code (`.credentials.json` in its config folder): a `claudeAiOauth`
//!   login is a Claude.ai subscription (Pro, Max, Team, Enterprise; its
//!   `subscriptionType` is named); anything else (an API key, a Console login,
//!   no file) is API billing.
//! - Codex (`$CODEX_HOME/auth.json`): `auth_mode` `chatgpt` (or, in files
//!   without `auth_mode`, a `tokens` object: a `ChatGPT` sign-in) is a `ChatGPT`
//!   plan; `apikey`, or an `OPENAI_API_KEY` alone, is API billing.

use serde::Deserialize;
use serde::de::IgnoredAny;

/// How an agent's calls are paid for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Billing {
    /// Pay per token with an API key: real spend.
    Api,
    /// Covered by a subscription (Claude Pro/Max, a `ChatGPT` plan): usage, not spend.
    Subscription,
}

impl Billing {
    /// The `billing` tag value: `api`, `subscription`.
    #[must_use]
    pub fn tag(self) -> &'static str {
        match self {
            Billing::Api => "api",
            Billing::Subscription => "subscription",
        }
    }
}

/// A decision and the fact it rests on, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detected {
    pub billing: Billing,
    pub reason: String,
}

#[derive(Deserialize)]
struct ClaudeCredentials {
    #[serde(rename = "claudeAiOauth")]
    claude_ai_oauth: Option<ClaudeOauth>,
}

#[derive(Deserialize)]
struct ClaudeOauth {
    #[serde(rename = "subscriptionType")]
    subscription_type: Option<String>,
}

/// Claude Code's billing from its `.credentials.json` (`None`: no such file).
#[must_use]
pub fn claude_code(credentials: Option<&[u8]>) -> Detected {
    let Some(bytes) = credentials else {
        return Detected {
            billing: Billing::Api,
            reason: "no Claude.ai login file (`.credentials.json`) was found".to_owned(),
        };
    };
    match serde_json::from_slice::<ClaudeCredentials>(bytes) {
        Ok(ClaudeCredentials { claude_ai_oauth: Some(oauth) }) => {
            let plan = oauth.subscription_type.filter(|s| is_plain_word(s));
            Detected {
                billing: Billing::Subscription,
                reason: match plan {
                    Some(plan) => format!("Claude Code is signed in with a Claude.ai `{plan}` subscription"),
                    None => "Claude Code is signed in with a Claude.ai subscription".to_owned(),
                },
            }
        }
        Ok(_) => Detected { billing: Billing::Api, reason: "Claude Code has no Claude.ai login".to_owned() },
        Err(_) => Detected { billing: Billing::Api, reason: "Claude Code's login file is not JSON".to_owned() },
    }
}

#[derive(Deserialize)]
struct CodexAuth {
    auth_mode: Option<String>,
    tokens: Option<IgnoredAny>,
    #[serde(rename = "OPENAI_API_KEY")]
    api_key: Option<IgnoredAny>,
}

/// Codex's billing from its `auth.json` (`None`: no such file).
#[must_use]
pub fn codex(auth: Option<&[u8]>) -> Detected {
    let Some(bytes) = auth else {
        return Detected { billing: Billing::Api, reason: "no Codex login file (`auth.json`) was found".to_owned() };
    };
    let Ok(auth) = serde_json::from_slice::<CodexAuth>(bytes) else {
        return Detected { billing: Billing::Api, reason: "Codex's login file is not JSON".to_owned() };
    };
    let chatgpt = Detected {
        billing: Billing::Subscription,
        reason: "Codex is signed in with ChatGPT (a ChatGPT plan)".to_owned(),
    };
    let api = Detected { billing: Billing::Api, reason: "Codex uses an OpenAI API key".to_owned() };
    match auth.auth_mode.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("chatgpt") => chatgpt,
        Some("apikey" | "api_key") => api,
        _ if auth.tokens.is_some() => chatgpt,
        _ if auth.api_key.is_some() => api,
        _ => Detected { billing: Billing::Api, reason: "Codex's login file names no login".to_owned() },
    }
}

/// A plan name worth repeating (`max`, `pro`): short, letters and digits only.
fn is_plain_word(text: &str) -> bool {
    !text.is_empty() && text.len() <= 32 && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claude_ai_login_is_a_subscription_and_anything_else_api() {
        let max = br#"{"claudeAiOauth":{"accessToken":"sk-ant-oat01-secret","refreshToken":"r","expiresAt":1,"scopes":["user:inference"],"subscriptionType":"max"}}"#;
        let detected = claude_code(Some(max));
        assert_eq!(detected.billing, Billing::Subscription);
        assert!(detected.reason.contains("`max`"));
        assert!(!detected.reason.contains("secret"));
        assert_eq!(claude_code(Some(b"{}")).billing, Billing::Api);
        assert_eq!(claude_code(None).billing, Billing::Api);
        assert_eq!(claude_code(Some(b"nope")).billing, Billing::Api);
    }

    #[test]
    fn a_chatgpt_sign_in_is_a_subscription_and_an_api_key_is_api() {
        let chatgpt = br#"{"OPENAI_API_KEY":null,"tokens":{"id_token":"x","access_token":"y","refresh_token":"z","account_id":"a"},"last_refresh":"2026-10-01T00:00:00Z"}"#;
        assert_eq!(codex(Some(chatgpt)).billing, Billing::Subscription);
        let key = br#"{"OPENAI_API_KEY":"sk-secret","tokens":null}"#;
        assert_eq!(codex(Some(key)).billing, Billing::Api);
        let moded = br#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk-secret","tokens":{"id_token":"x"}}"#;
        assert_eq!(codex(Some(moded)).billing, Billing::Api, "auth_mode decides when present");
        assert_eq!(codex(Some(br#"{"auth_mode":"chatgpt"}"#)).billing, Billing::Subscription);
        assert_eq!(codex(None).billing, Billing::Api);
    }
}
