//! The LLM proxy: `/proxy/{openai,anthropic,gemini}/…` forwarded upstream,
//! with each call's usage recorded (SPEC §10, §11; `docs/proxy.md`).
//!
//! The request path stays short on purpose. A call is authenticated by
//! `X-LLMLab-Key` (the key's row is cached for two seconds, so a busy client
//! does not cost a database read per call), checked against the hard budget when the
//! account has one, and forwarded on a pooled connection. The response
//! streams back frame by frame as it arrives; a tee ([`body::RecordedBody`])
//! feeds the same bytes to the core's incremental `ResponseAccumulator` and,
//! when the body ends, hands the call to the recorder task
//! ([`record::Recorder`]), which normalizes, prices and stores it in groups
//! through the group-commit event writer. Nothing on the response path waits
//! for the database.

mod body;
pub(crate) mod docs;
mod errors;
mod forward;
mod gemini;
mod openai;
mod record;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::routing::any;
use llmlab_core::Provider;

use crate::state::AppState;

pub use forward::check_upstream_url;

/// The public API hosts the proxy forwards to unless told otherwise.
pub const DEFAULT_UPSTREAM_OPENAI: &str = "https://api.openai.com";
/// See [`DEFAULT_UPSTREAM_OPENAI`].
pub const DEFAULT_UPSTREAM_ANTHROPIC: &str = "https://api.anthropic.com";
/// See [`DEFAULT_UPSTREAM_OPENAI`].
pub const DEFAULT_UPSTREAM_GEMINI: &str = "https://generativelanguage.googleapis.com";
/// How long the proxy waits for an upstream's response headers by default.
/// Non-streamed reasoning calls can think for minutes; the official SDKs
/// wait 10 minutes, so the proxy does too.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_mins(10);

/// How the proxy reaches the providers.
#[derive(Clone, Debug)]
pub struct ProxySettings {
    /// Base URL for `/proxy/openai/…` (`LLMLAB_UPSTREAM_OPENAI`).
    pub upstream_openai: String,
    /// Base URL for `/proxy/anthropic/…` (`LLMLAB_UPSTREAM_ANTHROPIC`).
    pub upstream_anthropic: String,
    /// Base URL for `/proxy/gemini/…` (`LLMLAB_UPSTREAM_GEMINI`).
    pub upstream_gemini: String,
    /// Add `stream_options.include_usage` to OpenAI chat streams that do not
    /// ask for it, so their usage (and cost) is known. Off by default: the
    /// client then receives one extra chunk with empty `choices`.
    pub include_usage: bool,
    /// How long to wait for an upstream's response headers before answering 504.
    pub upstream_timeout: Duration,
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            upstream_openai: DEFAULT_UPSTREAM_OPENAI.to_owned(),
            upstream_anthropic: DEFAULT_UPSTREAM_ANTHROPIC.to_owned(),
            upstream_gemini: DEFAULT_UPSTREAM_GEMINI.to_owned(),
            include_usage: false,
            upstream_timeout: DEFAULT_UPSTREAM_TIMEOUT,
        }
    }
}

/// Which provider a proxy route speaks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Upstream {
    OpenAi,
    Anthropic,
    Gemini,
}

impl Upstream {
    /// The route prefix, without a trailing slash.
    fn prefix(self) -> &'static str {
        match self {
            Upstream::OpenAi => "/proxy/openai",
            Upstream::Anthropic => "/proxy/anthropic",
            Upstream::Gemini => "/proxy/gemini",
        }
    }

    fn base_url(self, settings: &ProxySettings) -> &str {
        match self {
            Upstream::OpenAi => &settings.upstream_openai,
            Upstream::Anthropic => &settings.upstream_anthropic,
            Upstream::Gemini => &settings.upstream_gemini,
        }
    }

    pub(crate) fn provider(self) -> Provider {
        match self {
            Upstream::OpenAi => Provider::OpenAi,
            Upstream::Anthropic => Provider::Anthropic,
            Upstream::Gemini => Provider::Google,
        }
    }

    /// True for the endpoints that bill tokens, whose every call is recorded
    /// (errors and usage-unknown calls included). Other endpoints (model
    /// lists, token counting, files) are forwarded, and recorded only if
    /// their response carries a usage.
    fn is_billed_endpoint(self, path: &str) -> bool {
        let path = path.trim_end_matches('/');
        match self {
            Upstream::OpenAi => ["/chat/completions", "/completions", "/responses", "/embeddings"]
                .iter()
                .any(|endpoint| path.ends_with(endpoint)),
            Upstream::Anthropic => path.ends_with("/messages"),
            Upstream::Gemini => gemini::is_generate_call(path),
        }
    }
}

/// What `X-LLMLab-Project` and `X-LLMLab-Tags` asked for.
#[derive(Clone, Debug, Default)]
pub(crate) struct Labels {
    pub(crate) project: Option<String>,
    pub(crate) tags: Option<BTreeMap<String, String>>,
}

/// The proxy's long-lived parts, shared by its three routes.
pub(crate) struct Proxy {
    client: forward::UpstreamClient,
    /// Started on the first proxied call, with that call's state. It lives
    /// here rather than in the shared state so that it ends, after draining,
    /// once the router (and so every sender) is gone: the state would keep
    /// its own recorder alive forever.
    recorder: OnceLock<record::Recorder>,
}

impl Proxy {
    fn recorder(&self, state: &AppState) -> &record::Recorder {
        self.recorder.get_or_init(|| record::Recorder::start(state.clone()))
    }
}

/// The proxy routes.
pub fn router() -> Router<AppState> {
    let proxy = Arc::new(Proxy { client: forward::UpstreamClient::new(), recorder: OnceLock::new() });
    let mut router = Router::new();
    for upstream in [Upstream::OpenAi, Upstream::Anthropic, Upstream::Gemini] {
        let proxy = proxy.clone();
        let handler = move |State(state): State<AppState>, request: Request| {
            let proxy = proxy.clone();
            async move { forward::handle(&proxy, upstream, state, request).await }
        };
        router = router.route(&format!("{}/{{*rest}}", upstream.prefix()), any(handler));
    }
    router
}
