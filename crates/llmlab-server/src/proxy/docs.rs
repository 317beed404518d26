//! The proxy's entries in the OpenAPI document. The routes themselves are
//! served by [`super::router`] for every method; these functions only carry
//! the descriptions.
#![expect(dead_code, reason = "OpenAPI descriptions only; the proxy router serves these paths")]

/// Forwards any OpenAI API call (`POST /proxy/openai/v1/chat/completions`…)
/// to `LLMLAB_UPSTREAM_OPENAI` and records its usage and cost. Send
/// LLMLab's key in `X-LLMLab-Key`; the `Authorization` header (your OpenAI
/// key) passes through untouched. Every method is forwarded.
#[utoipa::path(post, path = "/proxy/openai/{path}", tag = "proxy",
    params(("path" = String, Path, description = "The rest of the OpenAI path, e.g. `v1/chat/completions`"),
           ("X-LLMLab-Key" = String, Header, description = "Your LLMLab API key"),
           ("X-LLMLab-Project" = Option<String>, Header, description = "Project to record the call under"),
           ("X-LLMLab-Tags" = Option<String>, Header, description = "Tags, `key=value,key=value`")),
    responses((status = 200, description = "The upstream's response, streamed unchanged"),
              (status = 401, description = "Missing or invalid `X-LLMLab-Key`, in OpenAI's error format"),
              (status = 429, description = "Hard budget exceeded, in OpenAI's error format"),
              (status = 502, description = "Upstream unreachable"), (status = 504, description = "Upstream timed out")))]
pub(crate) fn openai() {}

/// Forwards any Anthropic API call (`POST /proxy/anthropic/v1/messages`…) to
/// `LLMLAB_UPSTREAM_ANTHROPIC`; `x-api-key` passes through untouched.
#[utoipa::path(post, path = "/proxy/anthropic/{path}", tag = "proxy",
    params(("path" = String, Path, description = "The rest of the Anthropic path, e.g. `v1/messages`"),
           ("X-LLMLab-Key" = String, Header, description = "Your LLMLab API key")),
    responses((status = 200, description = "The upstream's response, streamed unchanged"),
              (status = 401, description = "Missing or invalid `X-LLMLab-Key`, in Anthropic's error format"),
              (status = 429, description = "Hard budget exceeded"), (status = 502), (status = 504)))]
pub(crate) fn anthropic() {}

/// Forwards any Gemini API call
/// (`POST /proxy/gemini/v1beta/models/gemini-2.5-flash:generateContent`…) to
/// `LLMLAB_UPSTREAM_GEMINI`; `x-goog-api-key` or `?key=` pass through untouched.
#[utoipa::path(post, path = "/proxy/gemini/{path}", tag = "proxy",
    params(("path" = String, Path, description = "The rest of the Gemini path"),
           ("X-LLMLab-Key" = String, Header, description = "Your LLMLab API key")),
    responses((status = 200, description = "The upstream's response, streamed unchanged"),
              (status = 401, description = "Missing or invalid `X-LLMLab-Key`, in Gemini's error format"),
              (status = 429, description = "Hard budget exceeded"), (status = 502), (status = 504)))]
pub(crate) fn gemini() {}
