"""The built-in catalog against a pinned release of pydantic's genai-prices.

Every chat model of OpenAI, Anthropic and Google that both know is priced at a
few usage mixes below every long-context threshold, by LLMLab's own core
(`llmlab cost`, the same code the server and proxy run) and by genai-prices
(`calc_price`). The two must agree to the nano-dollar (LLMLab rounds to
nano-USD). A disagreement fails the test unless `ALLOWED` says why, with a
source: then one of the two is wrong on purpose, and the entry says which.
"""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import genai_prices  # type: ignore[import-untyped]

# (input tokens not read from a cache, cache reads, output tokens): a large
# balanced call (the figure the catalog issue compared), and a cached prompt,
# compared only for models both price cache reads for (a model without prompt
# caching never reports cached tokens).
MIXES = [(100_000, 0, 100_000), (20_000, 30_000, 2_000)]

# (provider, model) → why LLMLab prices it differently, and the source.
ALLOWED: dict[tuple[str, str], str] = {
    # OpenAI's chat search models search the web on every call; LLMLab counts one
    # search per call at the per-search fee, genai-prices prices only the tokens.
    ("openai", "gpt-5-search-api"): "one web search per call at $0.01 (LiteLLM 1.110.2 "
    "search_context_cost_per_query); genai-prices has no per-call search fee",
    ("openai", "gpt-4o-search-preview"): "one web search per call at $0.025 (LiteLLM 1.110.2 "
    "search_context_cost_per_query); genai-prices has no per-call search fee",
    ("openai", "gpt-4o-mini-search-preview"): "one web search per call at $0.025 (LiteLLM 1.110.2 "
    "search_context_cost_per_query); genai-prices has no per-call search fee",
}

NANO = Decimal("0.000000001")


def catalog(binary: Path) -> list[dict[str, Any]]:
    out = subprocess.run([str(binary), "prices", "--json"], capture_output=True, text=True, check=True)
    models: list[dict[str, Any]] = json.loads(out.stdout)
    return [m for m in models if m["provider"] in ("openai", "anthropic", "google") and m["kind"] == "chat"]


def body(provider: str, model: str, fresh: int, cached: int, output: int) -> dict[str, Any]:
    """A response body carrying the mix, as the provider reports usage."""
    if provider == "openai":
        usage = {
            "prompt_tokens": fresh + cached,
            "completion_tokens": output,
            "prompt_tokens_details": {"cached_tokens": cached},
        }
        return {"object": "chat.completion", "model": model, "usage": usage}
    if provider == "anthropic":
        usage = {"input_tokens": fresh, "output_tokens": output, "cache_read_input_tokens": cached}
        return {"type": "message", "model": model, "usage": usage}
    metadata = {
        "promptTokenCount": fresh + cached,
        "candidatesTokenCount": output,
        "cachedContentTokenCount": cached,
    }
    return {"modelVersion": model, "usageMetadata": metadata}


def ours(binary: Path, provider: str, model: str, mix: tuple[int, int, int]) -> Decimal | None:
    command = [str(binary), "cost", "-", "--provider", provider, "--model", model, "--json"]
    text = json.dumps(body(provider, model, *mix))
    out = subprocess.run(command, input=text, capture_output=True, text=True, check=True)
    priced = json.loads(out.stdout)
    return Decimal(priced["cost_usd"]) if priced["priced"] else None


def theirs(provider: str, model: str, mix: tuple[int, int, int]) -> tuple[Decimal, bool] | None:
    """genai-prices' price of the mix, and whether it prices cache reads; `None` when it lacks the model."""
    fresh, cached, output = mix
    usage = genai_prices.Usage(input_tokens=fresh + cached, cache_read_tokens=cached, output_tokens=output)
    try:
        price = genai_prices.calc_price(usage, model_ref=model, provider_id=provider)
    except LookupError:
        return None
    return Decimal(price.total_price), price.model_price.cache_read_mtok is not None


def test_the_catalog_agrees_with_genai_prices(llmlab_path: Path) -> None:
    compared, cached_mixes, disagreements = 0, 0, []
    models = catalog(llmlab_path)
    assert len(models) > 50, "the catalog lists the providers' chat models"
    for model in models:
        key = (model["provider"], model["id"])
        for mix in MIXES:
            found = theirs(*key, mix)
            if found is None:
                break  # genai-prices does not know it
            expected, they_cache = found
            if mix[1] and not (they_cache and model["standard"].get("cache_read") is not None):
                continue
            cached_mixes += bool(mix[1])
            actual = ours(llmlab_path, *key, mix)
            compared += 1
            if actual is None or abs(actual - expected) > NANO:
                disagreements.append(f"{key[0]}/{key[1]} at {mix}: LLMLab {actual}, genai-prices {expected}")
    unexplained = [d for d in disagreements if tuple(d.split(" at ")[0].split("/", 1)) not in ALLOWED]
    assert compared >= 100, f"only {compared} comparisons: genai-prices and the catalog share too few models"
    assert cached_mixes >= 50, f"only {cached_mixes} models compared with cache reads"
    assert not unexplained, "the catalog and genai-prices disagree:\n" + "\n".join(unexplained)
    stale = [k for k in ALLOWED if not any(d.startswith(f"{k[0]}/{k[1]} at ") for d in disagreements)]
    assert not stale, f"allowlisted but agreeing now, remove them: {stale}"
