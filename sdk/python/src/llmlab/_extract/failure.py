"""A provider call that raised: its HTTP status, provider and requested model, from the exception.

The official clients raise with the HTTP answer attached: ``openai`` and
``anthropic`` an ``APIStatusError`` (``status_code``, and the ``request``
that was sent), ``google-genai`` an ``errors.APIError`` (``code``, and the
``response`` with its ``request``). Read by duck typing, like the responses:
no provider SDK is imported. The server prices a call with a 4xx/5xx status
and no usage at exactly $0 (providers do not bill refused calls); the status
and model are all the SDK has to send.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import unquote

if TYPE_CHECKING:
    from ._common import Found

#: ``…/models/gemini-2.5-flash:generateContent`` → ``gemini-2.5-flash``.
_URL_MODEL = re.compile(r"/models/([^/:?#]+):")
#: A request body larger than this is not parsed for its model (the JSON of a huge prompt).
_MAX_BODY = 1 << 20
_PROVIDERS = (("openai", "openai"), ("anthropic", "anthropic"), ("google", "google"))


def status_of(exc: BaseException) -> Optional[int]:
    """The HTTP error status (400-599) the provider answered with, or ``None`` (no answer)."""
    response = getattr(exc, "response", None)
    for value in (
        getattr(exc, "status_code", None),  # openai, anthropic
        getattr(exc, "code", None),  # google-genai
        getattr(response, "status_code", None),  # httpx / requests HTTPStatusError
    ):
        if isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 599:
            return value
    return None


def describe(exc: BaseException) -> tuple[str, Optional[Found], Any]:
    """``(status, found, request)`` for the queue: cheap attribute reads only.

    ``status`` is the HTTP status as text (``"404"``) or ``"error"``;
    ``found`` names the provider when the exception's module does;
    ``request`` is the request that was sent (its model is read later, on
    the worker, by ``requested_model``), or ``None``.
    """
    status = status_of(exc)
    module = type(exc).__module__ or ""
    provider = next((name for prefix, name in _PROVIDERS if module.startswith(prefix)), None)
    found: Optional[Found] = (provider, None, None, None, None) if provider else None
    request = getattr(exc, "request", None)
    if request is None:
        request = getattr(getattr(exc, "response", None), "request", None)
    return ("error" if status is None else str(status)), found, request


def requested_model(request: Any) -> Optional[str]:
    """The model a request asked for: in a Gemini URL, else the JSON body's ``model``."""
    match = _URL_MODEL.search(str(getattr(request, "url", "") or ""))
    if match:
        return unquote(match.group(1))
    try:
        content = request.content  # httpx.Request: the bytes sent
    except Exception:  # noqa: BLE001 - a streamed body that was never read, or no body at all
        return None
    if not isinstance(content, (bytes, bytearray)) or not content or len(content) > _MAX_BODY:
        return None
    try:
        body = json.loads(content)
    except ValueError:
        return None
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) and model else None
