use super::*;
use crate::otel::Scope;

const TRACE: [u8; 16] = [0xab; 16];
const SPAN: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];

fn s<'a>(key: &'a str, value: &'a str) -> Attribute<'a> {
    Attribute { key, value: AttrValue::Str(value) }
}

fn n(key: &str, value: i64) -> Attribute<'_> {
    Attribute { key, value: AttrValue::Int(value) }
}

fn span<'a>(scope: &'a str, attributes: &'a [Attribute<'a>], resource: &'a [Attribute<'a>]) -> SpanView<'a> {
    SpanView {
        trace_id: &TRACE,
        span_id: &SPAN,
        name: "chat gpt-4o",
        start_unix_nano: 1_764_000_000_123_456_789,
        end_unix_nano: 1_764_000_001_623_456_789,
        failed: false,
        scope: Scope { name: scope, version: "1.0" },
        attributes,
        resource,
    }
}

fn call_of(view: &SpanView<'_>) -> LlmCall {
    match map_span(view) {
        SpanOutcome::Call(call) => *call,
        other => panic!("expected a call, got {other:?}"),
    }
}

#[allow(clippy::unnecessary_wraps)] // compared with `LlmCall::tokens`
fn buckets(input: u64, cache_read: u64, cache_write: u64, output: u64, reasoning: u64) -> Option<TokenBuckets> {
    Some(TokenBuckets {
        input_tokens: input,
        cache_read_tokens: cache_read,
        cache_write_tokens: cache_write,
        output_tokens: output,
        reasoning_tokens: reasoning,
        ..TokenBuckets::default()
    })
}

#[test]
fn a_genai_chat_span_becomes_a_call_with_cache_split_off_the_input() {
    let attributes = [
        s("gen_ai.operation.name", "chat"),
        s("gen_ai.system", "openai"),
        s("gen_ai.request.model", "gpt-4o"),
        s("gen_ai.response.model", "gpt-4o-2024-08-06"),
        n("gen_ai.usage.input_tokens", 2_006),
        n("gen_ai.usage.cache_read.input_tokens", 1_920),
        n("gen_ai.usage.output_tokens", 300),
        n("gen_ai.usage.reasoning.output_tokens", 64),
    ];
    let call = call_of(&span("opentelemetry.instrumentation.openai_v2", &attributes, &[]));
    assert_eq!(call.event_id, "otel-abababababababababababababababab-0123456789abcdef");
    assert_eq!(call.provider, "openai");
    assert_eq!(call.model, "gpt-4o-2024-08-06");
    assert_eq!(call.tokens, buckets(86, 1_920, 0, 300, 64));
    assert_eq!(call.started_at_ms, 1_764_000_000_123);
    assert_eq!(call.latency_ms, Some(1_500));
    assert_eq!(call.status, None);
    assert!(call.notes.is_empty());
}

#[test]
fn openllmetry_anthropic_input_includes_both_cache_classes() {
    let attributes = [
        s("gen_ai.operation.name", "chat"),
        s("gen_ai.provider.name", "anthropic"),
        s("gen_ai.request.model", "claude-sonnet-4-5"),
        n("gen_ai.usage.input_tokens", 3_010),
        n("gen_ai.usage.cache_read.input_tokens", 2_000),
        n("gen_ai.usage.cache_creation.input_tokens", 1_000),
        n("gen_ai.usage.output_tokens", 50),
    ];
    let call = call_of(&span("opentelemetry.instrumentation.anthropic", &attributes, &[]));
    assert_eq!(call.provider, "anthropic");
    assert_eq!(call.tokens, buckets(10, 2_000, 1_000, 50, 0));
}

#[test]
fn legacy_underscore_aliases_and_prompt_completion_names_are_read() {
    let attributes = [
        s("llm.request.type", "chat"),
        s("gen_ai.system", "Anthropic"),
        s("gen_ai.request.model", "claude-3-5-haiku"),
        n("gen_ai.usage.prompt_tokens", 1_500),
        n("gen_ai.usage.cache_read_input_tokens", 1_000),
        n("gen_ai.usage.cache_creation_input_tokens", 400),
        n("gen_ai.usage.completion_tokens", 20),
    ];
    let call = call_of(&span("opentelemetry.instrumentation.anthropic", &attributes, &[]));
    assert_eq!(call.tokens, buckets(100, 1_000, 400, 20, 0));
}

#[test]
fn openinference_llm_spans_use_token_count_attributes() {
    let attributes = [
        s("openinference.span.kind", "LLM"),
        s("llm.provider", "openai"),
        s("llm.system", "openai"),
        s("llm.model_name", "gpt-4o-mini-2024-07-18"),
        n("llm.token_count.prompt", 1_200),
        n("llm.token_count.prompt_details.cache_read", 1_024),
        n("llm.token_count.completion", 40),
        n("llm.token_count.completion_details.reasoning", 0),
        Attribute { key: "llm.cost.total", value: AttrValue::Double(0.000_25) },
    ];
    let call = call_of(&span("openinference.instrumentation.openai", &attributes, &[]));
    assert_eq!(call.model, "gpt-4o-mini-2024-07-18");
    assert_eq!(call.tokens, buckets(176, 1_024, 0, 40, 0));
    assert_eq!(call.notes.len(), 1);
    assert!(call.notes[0].contains("0.00025 USD (`llm.cost.total`)"), "{:?}", call.notes);
}

#[test]
fn openinference_chain_and_tool_spans_are_not_calls() {
    let chain = [s("openinference.span.kind", "CHAIN"), n("llm.token_count.prompt", 10)];
    assert_eq!(map_span(&span("openinference.instrumentation.langchain", &chain, &[])), SpanOutcome::NotLlm);
}

#[test]
fn vercel_inner_calls_count_and_outer_spans_do_not() {
    let inner = [
        s("ai.operationId", "ai.streamText.doStream"),
        s("ai.model.provider", "anthropic.messages"),
        s("ai.model.id", "claude-sonnet-4-5"),
        s("ai.response.model", "claude-sonnet-4-5-20250929"),
        n("ai.usage.inputTokens", 12),
        n("ai.usage.cachedInputTokens", 2_048),
        Attribute { key: "ai.usage.outputTokens", value: AttrValue::Double(90.0) },
        s("ai.response.providerMetadata", r#"{"anthropic":{"cacheCreationInputTokens":512}}"#),
    ];
    let call = call_of(&span("ai", &inner, &[]));
    assert_eq!(call.provider, "anthropic");
    assert_eq!(call.model, "claude-sonnet-4-5-20250929");
    assert_eq!(call.tokens, buckets(12, 2_048, 512, 90, 0));

    let outer = [
        s("ai.operationId", "ai.streamText"),
        s("ai.model.provider", "anthropic.messages"),
        n("ai.usage.inputTokens", 12),
    ];
    assert_eq!(map_span(&span("ai", &outer, &[])), SpanOutcome::NotLlm);
}

#[test]
fn agent_and_tool_operations_are_not_calls() {
    for operation in ["invoke_agent", "execute_tool", "create_agent"] {
        let attributes = [
            s("gen_ai.operation.name", operation),
            s("gen_ai.system", "openai"),
            s("gen_ai.request.model", "gpt-4o"),
            n("gen_ai.usage.input_tokens", 10),
        ];
        assert_eq!(map_span(&span("some.agent.framework", &attributes, &[])), SpanOutcome::NotLlm, "{operation}");
    }
}

#[test]
fn spans_without_a_marker_are_skipped_by_their_keys() {
    let http = [s("http.request.method", "POST"), s("url.full", "https://api.openai.com/v1/chat/completions")];
    assert!(!is_candidate(&http));
    assert_eq!(map_span(&span("opentelemetry.instrumentation.httpx", &http, &[])), SpanOutcome::NotLlm);
}

#[test]
fn a_call_without_a_model_or_with_a_bad_count_is_unusable() {
    let no_model = [s("gen_ai.operation.name", "chat"), s("gen_ai.system", "openai")];
    assert_eq!(
        map_span(&span("x", &no_model, &[])),
        SpanOutcome::Unusable("names no model (`gen_ai.response.model` or `gen_ai.request.model`)".into())
    );
    let negative = [
        s("gen_ai.operation.name", "chat"),
        s("gen_ai.system", "openai"),
        s("gen_ai.request.model", "gpt-4o"),
        n("gen_ai.usage.input_tokens", -5),
    ];
    assert_eq!(
        map_span(&span("x", &negative, &[])),
        SpanOutcome::Unusable("has `gen_ai.usage.input_tokens` that is not a whole number of tokens at least 0".into())
    );
}

#[test]
fn a_span_with_zero_ids_is_unusable() {
    let attributes = [s("gen_ai.operation.name", "chat"), s("gen_ai.system", "openai"), s("gen_ai.request.model", "m")];
    let mut view = span("x", &attributes, &[]);
    view.span_id = &[0; 8];
    assert!(matches!(map_span(&view), SpanOutcome::Unusable(why) if why.contains("span id")));
}

#[test]
fn a_call_without_usage_has_no_tokens_and_a_failed_one_says_so() {
    let attributes =
        [s("gen_ai.operation.name", "chat"), s("gen_ai.system", "openai"), s("gen_ai.request.model", "gpt-4o")];
    let mut view = span("x", &attributes, &[]);
    view.failed = true;
    let call = call_of(&view);
    assert_eq!(call.tokens, None);
    assert_eq!(call.status.as_deref(), Some("error"));

    let refused = [
        s("gen_ai.operation.name", "chat"),
        s("gen_ai.system", "openai"),
        s("gen_ai.request.model", "gpt-4o"),
        n("http.response.status_code", 429),
    ];
    assert_eq!(call_of(&span("x", &refused, &[])).status.as_deref(), Some("429"));
}

#[test]
fn an_unknown_instrumentation_whose_input_is_smaller_than_its_cache_is_read_as_uncached() {
    let attributes = [
        s("gen_ai.operation.name", "chat"),
        s("gen_ai.system", "anthropic"),
        s("gen_ai.request.model", "claude-sonnet-4-5"),
        n("gen_ai.usage.input_tokens", 10),
        n("gen_ai.usage.cache_read.input_tokens", 2_000),
        n("gen_ai.usage.output_tokens", 5),
    ];
    let call = call_of(&span("my.homegrown.instrumentation", &attributes, &[]));
    assert_eq!(call.tokens, buckets(10, 2_000, 0, 5, 0));
    assert_eq!(call.notes.len(), 1);
    assert!(call.notes[0].contains("smaller than its cache tokens"));
}

#[test]
fn google_provider_names_map_to_google() {
    for system in ["gemini", "gcp.gemini", "gcp.gen_ai", "gcp.vertex_ai", "vertex_ai", "google.generative-ai"] {
        let attributes = [
            s("gen_ai.operation.name", "generate_content"),
            s("gen_ai.system", system),
            s("gen_ai.request.model", "gemini-2.5-flash"),
            n("gen_ai.usage.input_tokens", 1),
        ];
        assert_eq!(call_of(&span("x", &attributes, &[])).provider, "google", "{system}");
    }
}

#[test]
fn project_and_tags_come_from_span_then_resource() {
    let resource = [s("service.name", "billing-api"), s("llmlab.tag.team", "payments"), s("llmlab.tag.env", "prod")];
    let attributes = [
        s("gen_ai.operation.name", "chat"),
        s("gen_ai.system", "openai"),
        s("gen_ai.request.model", "gpt-4o"),
        s("llmlab.tag.env", "staging"),
        n("llmlab.tag.shard", 3),
    ];
    let call = call_of(&span("x", &attributes, &resource));
    assert_eq!(call.project.as_deref(), Some("billing-api"));
    let expected: BTreeMap<String, String> =
        [("env", "staging"), ("shard", "3"), ("team", "payments")].map(|(k, v)| (k.into(), v.into())).into();
    assert_eq!(call.tags, expected);

    let named = [s("gen_ai.operation.name", "chat"), s("gen_ai.system", "openai"), s("gen_ai.request.model", "m")];
    let resource = [s("service.name", "billing-api"), s("llmlab.project", "research")];
    assert_eq!(call_of(&span("x", &named, &resource)).project.as_deref(), Some("research"));
    let unnamed = [s("service.name", "unknown_service:python")];
    assert_eq!(call_of(&span("x", &named, &unnamed)).project, None);
}

#[test]
fn an_instrumentation_cost_is_kept_as_a_note_only() {
    let attributes = [
        s("gen_ai.operation.name", "chat"),
        s("gen_ai.system", "openai"),
        s("gen_ai.request.model", "gpt-4o"),
        n("gen_ai.usage.input_tokens", 100),
        Attribute { key: "gen_ai.usage.cost", value: AttrValue::Double(0.5) },
    ];
    let call = call_of(&span("openlit.otel.tracing", &attributes, &[]));
    assert_eq!(call.tokens, buckets(100, 0, 0, 0, 0));
    assert_eq!(
        call.notes,
        ["the instrumentation reported a cost of 0.5 USD (`gen_ai.usage.cost`); LLMLab prices the call from its \
          tokens, so that figure is only for comparison"]
    );
}

#[test]
fn counts_sent_as_strings_or_integral_doubles_are_read() {
    let attributes = [
        s("gen_ai.operation.name", "chat"),
        s("gen_ai.system", "openai"),
        s("gen_ai.request.model", "gpt-4o"),
        s("gen_ai.usage.input_tokens", "42"),
        Attribute { key: "gen_ai.usage.output_tokens", value: AttrValue::Double(7.0) },
    ];
    assert_eq!(call_of(&span("x", &attributes, &[])).tokens, buckets(42, 0, 0, 7, 0));
    let fractional = [
        s("gen_ai.operation.name", "chat"),
        s("gen_ai.system", "openai"),
        s("gen_ai.request.model", "gpt-4o"),
        Attribute { key: "gen_ai.usage.output_tokens", value: AttrValue::Double(7.5) },
    ];
    assert!(matches!(map_span(&span("x", &fractional, &[])), SpanOutcome::Unusable(_)));
}

#[test]
fn openlit_anthropic_input_excludes_its_cache_tokens() {
    let attributes = [
        s("gen_ai.operation.name", "chat"),
        s("gen_ai.provider.name", "anthropic"),
        s("gen_ai.request.model", "claude-sonnet-4-5"),
        n("gen_ai.usage.input_tokens", 21),
        n("gen_ai.usage.cache_read.input_tokens", 0),
        n("gen_ai.usage.cache_creation.input_tokens", 3_200),
        n("gen_ai.usage.output_tokens", 19),
        Attribute { key: "gen_ai.usage.cost", value: AttrValue::Double(0.012_348) },
    ];
    let call = call_of(&span("openlit.otel.tracing", &attributes, &[]));
    assert_eq!(call.tokens, buckets(21, 0, 3_200, 19, 0));
    assert!(call.notes.iter().all(|n| !n.contains("smaller than its cache tokens")), "{:?}", call.notes);
}
