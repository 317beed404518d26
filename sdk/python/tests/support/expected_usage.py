"""The raw usage object and model an SDK should send for a fixture, worked out from its body.

This follows the fixtures README's stream rules (last usage chunk for OpenAI
chat, the terminal event's response for Responses, message_start overwritten
by each message_delta for Anthropic, the last usageMetadata for Gemini). It
only picks objects out of the body; it computes no tokens or costs.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from .stub_upstream import Fixture


def sse_data(body: bytes) -> list[Any]:
    """The JSON payloads of an SSE body, in order (``[DONE]`` left out)."""
    out = []
    for block in body.decode().split("\n\n"):
        data = [line[5:].lstrip() for line in block.split("\n") if line.startswith("data:")]
        if data and data[0] != "[DONE]":
            out.append(json.loads("\n".join(data)))
    return out


def items(fx: Fixture) -> list[Any]:
    """The chunks of a stream fixture (SSE or Gemini JSON array), or ``[body]``."""
    if fx.is_sse:
        return sse_data(fx.body)
    data = json.loads(fx.body)
    return data if isinstance(data, list) else [data]


def drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


FEE_ITEMS = ("web_search_call", "file_search_call", "code_interpreter_call")


def expected_response_parts(fx: Fixture) -> Optional[dict[str, Any]]:
    """The ``response_parts`` an SDK should send beside the usage: the hosted-tool
    items of an OpenAI Responses ``output`` and the Gemini candidates' search
    grounding, copied (never counted), or ``None`` when the body has neither."""
    chunks = items(fx)
    if fx.api == "openai.responses":
        final = chunks[-1].get("response", chunks[-1]) if fx.stream else chunks[0]
        tools = []
        for item in final.get("output") or []:
            if item.get("type") in FEE_ITEMS:
                tool = {"type": item["type"], "status": item.get("status")}
                if item.get("container_id") is not None:
                    tool["container_id"] = item["container_id"]
                tools.append(tool)
        return {"output": tools} if tools else None
    if fx.api.startswith("gemini"):
        grounding = None
        for chunk in chunks:
            found = []
            for candidate in chunk.get("candidates") or []:
                metadata = candidate.get("groundingMetadata")
                if metadata is not None:
                    part: dict[str, Any] = {
                        "webSearchQueries": metadata.get("webSearchQueries") or []
                    }
                    if metadata.get("searchEntryPoint") is not None:
                        part["searchEntryPoint"] = {}
                    found.append({"groundingMetadata": part})
            grounding = {"candidates": found} if found else grounding
        return grounding
    return None


def expected_usage_and_model(fx: Fixture) -> tuple[Optional[dict[str, Any]], Optional[str]]:
    chunks = items(fx)
    usage: Any = None
    model: Optional[str] = None
    if fx.api == "openai.batch_line":
        inner = chunks[0]["response"]["body"]
        return drop_nulls(inner.get("usage")), inner.get("model")
    if fx.api.startswith("gemini"):
        for chunk in chunks:
            if chunk.get("usageMetadata") is not None:
                usage = chunk["usageMetadata"]
            model = chunk.get("modelVersion") or model
    elif fx.api == "anthropic.messages" and fx.stream:
        merged: dict[str, Any] = {}
        for event in chunks:
            if event.get("type") == "message_start":
                merged = {k: v for k, v in event["message"]["usage"].items() if v is not None}
                model = event["message"]["model"]
            elif event.get("type") == "message_delta" and event.get("usage"):
                merged.update({k: v for k, v in event["usage"].items() if v is not None})
        usage = merged or None
    elif fx.api == "openai.responses" and fx.stream:
        for event in chunks:
            response = event.get("response")
            if isinstance(response, dict):
                model = response.get("model") or model
                if event.get("type") in ("response.completed", "response.incomplete"):
                    usage = response.get("usage")
    else:
        for chunk in chunks:
            if chunk.get("usage") is not None:
                usage = chunk["usage"]
            model = chunk.get("model") or model
    return drop_nulls(usage), model
