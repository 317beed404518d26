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

mod batch;
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

use axum::Router;
use axum::extract::{Request, State};
use axum::routing::any;
use llmlab_core::Provider;

use crate::state::AppState;

pub use forward::check_upstream_url;

pub use crate::state::{
    DEFAULT_UPSTREAM_ANTHROPIC, DEFAULT_UPSTREAM_GEMINI, DEFAULT_UPSTREAM_OPENAI, DEFAULT_UPSTREAM_TIMEOUT,
    ProxySettings,
};

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
    /// What batch objects taught about batches (see [`batch`]).
    batches: batch::Learned,
}

impl Proxy {
    fn recorder(&self, state: &AppState) -> &record::Recorder {
        self.recorder.get_or_init(|| record::Recorder::start(state.clone()))
    }
}

/// The proxy routes.
pub fn router() -> Router<AppState> {
    let proxy = Arc::new(Proxy {
        client: forward::UpstreamClient::new(),
        recorder: OnceLock::new(),
        batches: batch::Learned::default(),
    });
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
