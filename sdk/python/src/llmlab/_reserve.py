"""Hard mode: hold a call's worst-case cost on the server before the provider is called.

One round trip, ``POST /api/budgets/reserve``, on the caller's thread (async
callers wait on a small thread pool instead, so the event loop never blocks):

* 201 with a ``reservation_id``: the call is made, and its event carries the
  id; storing the event releases the hold in the same transaction.
* 200 (``reservation_id: null``): no hard budget covers the call, or its
  model is free or unpriced: the call is made, nothing is held.
* 429 ``budget_exceeded``: ``BudgetExceeded``, the call is not made.
* 422 (the cost has no bound, or the request is invalid): ``BudgetUnbounded``.
* No answer (connection refused, timeout, 5xx, a rejected key, a server
  without the endpoint): ``budget_failure`` decides. ``open`` makes the call
  unheld and logs one warning per outage; ``closed`` raises ``BudgetCheckFailed``.

What is sent is the tightest description of the call the SDK can find (see
``describe``): the provider request itself when the wrapped function is
called with one, else the model and an output limit.
"""

from __future__ import annotations

import enum
import functools
import inspect
import json
import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Optional
from urllib.parse import urlsplit

from ._budget import BudgetCheckFailed, BudgetExceeded, BudgetUnbounded
from ._config import FAIL_CLOSED, FAIL_OPEN, parse_budget_failure
from ._internal import forget_once, internal_error, log_once, logger
from ._sender import USER_AGENT, PostResult, connect_without_delay, parse_retry_after

if TYPE_CHECKING:
    import concurrent.futures
    import http.client
    from collections.abc import Mapping
    from concurrent.futures import ThreadPoolExecutor

    from ._config import Settings, TransportOptions

RESERVE_PATH = "/api/budgets/reserve"

#: A request whose JSON is larger is not sent: the server takes 8 MiB bodies; the
#: reservation falls back to the model and output limit (the context-window bound).
MAX_REQUEST_BYTES = 7 << 20

#: Keyword arguments of the provider clients that are not part of the request body.
NON_BODY = frozenset(
    {"extra_headers", "extra_query", "extra_body", "timeout", "betas", "idempotency_key"}
)

#: Arguments whose presence (with ``model``) says "these arguments are a provider request".
BODY_MARKERS = ("messages", "input", "contents")

#: Output-limit arguments, in the order each API reads them.
OUTPUT_LIMITS = ("max_completion_tokens", "max_tokens", "max_output_tokens")

#: Keys of google-genai's ``config`` that the REST API has at the top level, not in
#: ``generationConfig`` (the server looks for tools and cached content there).
_GEMINI_TOP_LEVEL = (
    ("systemInstruction", "system_instruction"),
    ("tools",),
    ("toolConfig", "tool_config"),
    ("safetySettings", "safety_settings"),
    ("cachedContent", "cached_content"),
    ("labels",),
)

#: Stands in for an object the SDK cannot turn into the bytes the provider will see (an
#: image object, an iterator it must not consume): the server then bounds the input by
#: the model's context window instead of the body's size, which never undercounts.
_OPAQUE = "inline_data"

#: How many idle connections to the server are kept for reservations.
_POOL_SIZE = 16
#: Threads that wait on reservations for async callers.
_ASYNC_WORKERS = 32


class CallInfo(NamedTuple):
    """What is reserved for: the fields of ``ReserveRequest`` the SDK fills in."""

    provider: str
    model: Optional[str]
    request: Optional[dict[str, Any]]
    path: Optional[str]
    max_output_tokens: Optional[int]
    project: Optional[str]
    tags: Optional[dict[str, str]]


# -- what the call is --------------------------------------------------------------------


class Target:
    """The decorated function, with what is learned about it once: its signature, and the
    provider and API when it is a provider client's own method (``client.messages.create``)."""

    __slots__ = ("_api", "_signature", "fn")

    _UNSET: Any = object()

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self._signature: Any = Target._UNSET
        self._api: Any = Target._UNSET

    def api(self) -> tuple[Optional[str], Optional[str]]:
        """``(provider, path)`` for a provider SDK method, else ``(None, None)``."""
        if self._api is Target._UNSET:
            self._api = _method_api(self.fn)
        api: tuple[Optional[str], Optional[str]] = self._api
        return api

    def arguments(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The call's arguments by name (positional ones and defaults included)."""
        if self._signature is Target._UNSET:
            try:
                self._signature = inspect.signature(self.fn)
            except (TypeError, ValueError):
                self._signature = None
        signature: Optional[inspect.Signature] = self._signature
        if signature is None:
            return dict(kwargs)
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            return dict(kwargs)  # the call itself will raise the same TypeError
        bound.apply_defaults()
        out: dict[str, Any] = {}
        for name, value in bound.arguments.items():
            kind = signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                out.update(value)
            elif kind is not inspect.Parameter.VAR_POSITIONAL:
                out[name] = value
        return out


def _method_api(fn: Callable[..., Any]) -> tuple[Optional[str], Optional[str]]:
    owner = getattr(fn, "__self__", None)
    if owner is None:
        return None, None
    cls = type(owner)
    module = cls.__module__ or ""
    name = cls.__name__.removeprefix("Async")
    method = getattr(fn, "__name__", "")
    if module.startswith("openai"):
        if name == "Completions":
            return "openai", "/v1/chat/completions" if ".chat." in module else "/v1/completions"
        if name == "Responses":
            return "openai", "/v1/responses"
        if name == "Embeddings":
            return "openai", "/v1/embeddings"
        return "openai", None
    if module.startswith("anthropic"):
        return "anthropic", "/v1/messages" if name == "Messages" else None
    if module.startswith("google"):
        if method.startswith("generate_content"):
            return "google", ":generateContent"
        return "google", f":{_camel(method)}" if method else None
    return None, None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _is_sentinel(value: Any) -> bool:
    """openai's ``NOT_GIVEN``/``omit`` and anthropic's twins: "argument not given"."""
    cls = type(value)
    return cls.__name__ in ("NotGiven", "Omit") and (cls.__module__ or "").startswith(
        ("openai", "anthropic")
    )


def _is_plain(value: Any) -> bool:
    """A value that can be part of a request body (not a client, logger or callback)."""
    if value is None or isinstance(value, (str, int, float, bool, dict, list, tuple, bytes)):
        return True
    if isinstance(value, type):
        return callable(getattr(value, "model_json_schema", None))  # `response_format=Model`
    return callable(getattr(value, "model_dump", None)) or isinstance(value, enum.Enum)


def describe(
    target: Target,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    provider: Optional[str],
    model: Optional[str],
    max_output_tokens: Optional[int],
    project: Optional[str],
    tags: Optional[dict[str, str]],
) -> CallInfo:
    """The reservation for one call of ``target``.

    The call's own arguments win: with a ``model`` and one of ``messages``,
    ``input`` or ``contents`` they are the provider request (the tightest
    bound); with a ``model`` alone, that model and an output limit argument.
    Otherwise the decorator's ``model``/``max_output_tokens``. Raises
    ``BudgetUnbounded`` when no model is known at all.
    """
    method_provider, path = target.api()
    called = target.arguments(args, kwargs)
    if method_provider is None:
        # A function of the application: its other arguments (a client, a callback) are not
        # part of any request; nested objects are (they sit inside messages).
        called = {name: value for name, value in called.items() if _is_plain(value)}
        called.pop("self", None)
        called.pop("cls", None)
    return from_arguments(
        called, provider or method_provider, path, model, max_output_tokens, project, tags
    )


def from_arguments(
    called: Mapping[str, Any],
    provider: Optional[str],
    path: Optional[str],
    model: Optional[str],
    max_output_tokens: Optional[int],
    project: Optional[str],
    tags: Optional[dict[str, str]],
) -> CallInfo:
    """``describe`` once the call's arguments are known (``track(request=...)`` starts here)."""
    params = {
        str(name): value
        for name, value in called.items()
        if not _is_sentinel(value) and name not in NON_BODY
    }
    call_model = params.get("model")
    if not isinstance(call_model, str) or not call_model.strip():
        call_model = None
    provider = provider or _guess_provider(call_model or model, params)
    if call_model is not None and any(params.get(key) is not None for key in BODY_MARKERS):
        extra_body = called.get("extra_body")
        if isinstance(extra_body, dict):
            params.update(extra_body)  # the provider clients merge it into the body
        bare = call_model.removeprefix("models/")
        method = path if path is not None and path.startswith(":") else None
        gemini = provider in ("google", "gemini") or "contents" in params
        if path is None and gemini:
            method = ":generateContent"
        if method is not None:
            gemini_path = f"/v1beta/models/{bare}{method}"
            return CallInfo(provider, None, _gemini_body(params), gemini_path, None, project, tags)
        path = path or _default_path(provider, params, call_model)
        return CallInfo(provider, None, params, path, None, project, tags)
    if call_model is not None:
        limits = _limits(params)
        limit = limits[0] if limits else max_output_tokens
        return CallInfo(provider, call_model, None, None, limit, project, tags)
    if model:
        return CallInfo(provider, model, None, None, max_output_tokens, project, tags)
    raise BudgetUnbounded(
        "LLMLab hard mode cannot tell which model this call uses, so no budget can hold it; "
        "it was not sent. Call the decorated function with the provider's request "
        "(model=..., messages=.../input=.../contents=...), or pass model= (and "
        "max_output_tokens=) to track_cost()/track()",
        provider=provider,
        project=project,
    )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _guess_provider(model: Optional[str], called: Mapping[str, Any]) -> str:
    if "contents" in called:
        return "google"
    name = (model or "").lower().removeprefix("models/")
    if name.startswith("claude"):
        return "anthropic"
    if name.startswith(("gemini", "gemma")):
        return "google"
    return "openai"


def _default_path(provider: str, called: Mapping[str, Any], model: str) -> str:
    if provider == "anthropic":
        return "/v1/messages"
    if called.get("messages") is not None:
        return "/v1/chat/completions"
    return "/v1/embeddings" if "embedding" in model.lower() else "/v1/responses"


def _gemini_body(params: dict[str, Any]) -> dict[str, Any]:
    """google-genai's ``generate_content(model=, contents=, config=)`` as the REST body."""
    body: dict[str, Any] = {"contents": params.get("contents")}
    config = params.get("config")
    if config is not None:
        generation = _plain_mapping(config)
        for key in ("httpOptions", "http_options", "shouldReturnHttpResponse"):
            generation.pop(key, None)
        for names in _GEMINI_TOP_LEVEL:
            for name in names:
                if name in generation:
                    body[names[0]] = generation.pop(name)
        body["generationConfig"] = generation
    return body


def _plain_mapping(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items() if v is not None}
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            dumped = dump(mode="json", by_alias=True, exclude_none=True)
            if isinstance(dumped, dict):
                return dumped
        except Exception:  # noqa: BLE001, S110 - a field pydantic cannot dump: read the attributes
            pass
    attrs = getattr(value, "__dict__", None) or {}
    return {str(k): v for k, v in attrs.items() if v is not None and not str(k).startswith("_")}


def _json_default(value: Any) -> Any:
    """``json.dumps``' fallback: what the provider client would put in the body."""
    if isinstance(value, type):
        schema = getattr(value, "model_json_schema", None)
        if callable(schema):
            return schema()  # a structured-output `response_format=Model`
        return {_OPAQUE: value.__name__}
    if _is_sentinel(value):
        return None
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", by_alias=True, exclude_none=True)
        except Exception:  # noqa: BLE001 - e.g. a field holding a class
            return _plain_mapping(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        import base64

        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return list(value)
    if hasattr(type(value), "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(value)
    # An image object, a file, an iterator: its tokens are not its text.
    return {_OPAQUE: type(value).__name__}


def encode(call: CallInfo) -> bytes:
    """The ``ReserveRequest`` JSON for ``call``."""
    raw: Optional[bytes] = None
    if call.request is not None:
        raw = _encode_request(call.request)
        if raw is None or len(raw) > MAX_REQUEST_BYTES:
            # Too large for the server (or not JSON): reserve by the model and the output
            # limit instead, which bounds the input by the model's context window.
            limits = _limits(call.request)
            call = call._replace(
                model=model_of(call),
                max_output_tokens=limits[0] if limits else None,
                request=None,
                path=None,
            )
            raw = None
    body: dict[str, Any] = {"provider": call.provider}
    if call.model is not None:
        body["model"] = call.model
    if raw is not None and call.path is not None:
        body["path"] = call.path
    if call.max_output_tokens is not None:
        body["max_output_tokens"] = call.max_output_tokens
    if call.project:
        body["project"] = call.project
    if call.tags:
        body["tags"] = call.tags
    head = json.dumps(body, separators=(",", ":")).encode("utf-8")
    if raw is None:
        return head
    return head[:-1] + b',"request":' + raw + b"}"


def _limits(request: Optional[dict[str, Any]]) -> list[int]:
    if request is None:
        return []
    found = [request[name] for name in OUTPUT_LIMITS if _is_count(request.get(name))]
    generation = request.get("generationConfig")
    if isinstance(generation, dict):
        for name in ("maxOutputTokens", "max_output_tokens"):
            if _is_count(generation.get(name)):
                found.append(generation[name])
    return found


def model_of(call: CallInfo) -> Optional[str]:
    if call.request is not None and isinstance(call.request.get("model"), str):
        return str(call.request["model"])
    if call.path and "/models/" in call.path:
        return call.path.split("/models/", 1)[1].split(":", 1)[0]
    return call.model


def _encode_request(request: dict[str, Any]) -> Optional[bytes]:
    # UTF-8, not \u escapes: the server bounds the input by the body's bytes, and those
    # of the text as sent are the tight bound (an escape is up to 6 bytes for one character).
    try:
        text = json.dumps(
            request,
            default=_json_default,
            ensure_ascii=False,
            allow_nan=False,
            separators=(",", ":"),
        )
        return text.encode("utf-8")
    except (TypeError, ValueError, RecursionError):
        return None  # NaN, a circular structure, a lone surrogate


# -- the round trip ----------------------------------------------------------------------


class Reserver:
    """Sends reservations to one server; safe to use from any number of threads at once."""

    def __init__(
        self,
        settings: Settings,
        options: TransportOptions,
        on_answer: Optional[Callable[[], None]] = None,
    ) -> None:
        self.settings = settings
        self.options = options
        self._on_answer = on_answer
        url = urlsplit(settings.base_url)
        self._scheme = url.scheme or "http"
        self._host = url.hostname or "127.0.0.1"
        self._port = url.port
        self._path = url.path.rstrip("/") + RESERVE_PATH
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Bearer {settings.api_key}",
            "User-Agent": USER_AGENT,
        }
        self._idle: deque[http.client.HTTPConnection] = deque()
        self._paused_until = 0.0
        self._failing = False
        self._executor: Optional[ThreadPoolExecutor] = None
        self._executor_lock = threading.Lock()

    # One connection per caller at a time; deque append/pop are atomic, so no lock.
    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        try:
            return self._idle.pop(), True
        except IndexError:
            import http.client

            timeout = self.options.reserve_timeout
            if self._scheme == "https":
                return http.client.HTTPSConnection(self._host, self._port, timeout=timeout), False
            return http.client.HTTPConnection(self._host, self._port, timeout=timeout), False

    def post(self, body: bytes) -> PostResult:
        """One ``POST /api/budgets/reserve``; never raises."""
        if time.monotonic() < self._paused_until:
            paused = TimeoutError("an earlier reservation timed out or was told to wait")
            return PostResult(error=paused)
        import http.client
        import socket

        for attempt in range(2):
            conn, reused = self._connection()
            try:
                if conn.sock is None:
                    connect_without_delay(conn)
                conn.request("POST", self._path, body=body, headers=self._headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                timed_out = isinstance(exc, (TimeoutError, socket.timeout))
                if reused and attempt == 0 and not timed_out:
                    continue  # a keep-alive connection the server had closed: one fresh try
                if timed_out:
                    self._paused_until = time.monotonic() + self.options.reserve_pause
                return PostResult(error=exc)
            if response.will_close or len(self._idle) >= _POOL_SIZE:
                conn.close()
            else:
                self._idle.append(conn)
            payload: Any = None
            if data:
                try:
                    payload = json.loads(data)
                except ValueError:
                    payload = None
            retry_after = parse_retry_after(response.getheader("Retry-After"))
            if response.status >= 500 and retry_after:
                self._paused_until = time.monotonic() + min(retry_after, self.options.reserve_pause)
            return PostResult(response.status, retry_after, payload)
        return PostResult()  # pragma: no cover - the loop always returns

    def executor(self) -> ThreadPoolExecutor:
        """The threads async callers wait on (made on first use)."""
        executor = self._executor
        if executor is None:
            with self._executor_lock:
                executor = self._executor
                if executor is None:
                    from concurrent.futures import ThreadPoolExecutor

                    executor = self._executor = ThreadPoolExecutor(
                        max_workers=_ASYNC_WORKERS, thread_name_prefix="llmlab-reserve"
                    )
        return executor

    def close(self) -> None:
        """Close idle connections and let the async threads end (after ``fork`` or on close)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)
        while True:
            try:
                self._idle.pop().close()
            except IndexError:
                return

    def note_answer(self) -> None:
        """The server answered: re-arm the once-per-outage warning, tell the sender."""
        if self._failing:
            self._failing = False
            forget_once("hard-mode-open")
        if self._on_answer is not None:
            self._on_answer()

    def note_failure(self) -> None:
        self._failing = True


def outcome(result: PostResult, call: CallInfo, failure: str, base_url: str) -> Optional[str]:
    """The reservation id to settle with (or ``None``), or raise what the caller must see."""
    status = result.status
    payload = result.payload
    model = call.model or model_of(call)
    if status in (200, 201) and isinstance(payload, dict):
        held = payload.get("reservation_id")
        return held if isinstance(held, str) and held else None
    error = payload.get("error") if isinstance(payload, dict) else None
    code = _code(payload)
    message = error.get("message") if isinstance(error, dict) else None

    def refusal(cls: type[BudgetExceeded], text: str) -> BudgetExceeded:
        return cls(
            text,
            status=status,
            code=code,
            provider=call.provider,
            model=model,
            project=call.project,
        )

    if status == 429 and code == "budget_exceeded":
        raise refusal(BudgetExceeded, str(message or "LLMLab hard budget reached"))
    if status == 422:
        raise refusal(
            BudgetUnbounded, str(message or "LLMLab cannot bound this call's cost; it was not sent")
        )
    if status is None:
        why = f"cannot reach {base_url}: {result.error!r}"
    elif status in (401, 403):
        why = f"{base_url} rejected the API key (HTTP {status}: {message})"
    elif status == 404:
        why = (
            f"{base_url} has no {RESERVE_PATH} (HTTP 404): it predates hard budgets; "
            "upgrade the server"
        )
    else:
        why = f"{base_url} answered HTTP {status} ({code}: {message})"
    if failure == FAIL_CLOSED:
        raise refusal(
            BudgetCheckFailed,
            f"LLMLab hard mode could not check the budget ({why}); the call was not sent "
            '(budget_failure="closed")',
        )
    log_once(
        "hard-mode-open",
        logging.WARNING,
        "llmlab: hard mode could not check the budget (%s); calls are sent without a budget "
        'hold until it can (budget_failure="open")',
        why,
    )
    return None


# -- entry points for the decorator and track() -------------------------------------------


class Plan(NamedTuple):
    """A hard call, ready to reserve: the transport's reserver (``None``: just call), the
    call, and the failure mode."""

    reserver: Optional[Reserver]
    call: Optional[CallInfo]
    failure: str


def plan(
    transport: Any,
    settings: Optional[Settings],
    build: Callable[[], CallInfo],
    failure_override: Optional[str],
) -> Plan:
    """What to do before a hard call; raises only ``BudgetExceeded`` and its subclasses."""
    if failure_override is not None:
        failure = parse_budget_failure(failure_override, "budget_failure")
    else:
        failure = settings.budget_failure if settings is not None else FAIL_OPEN
    if transport is None:
        if settings is None or settings.disabled_by_user:
            return Plan(None, None, failure)  # the SDK is switched off: so is hard mode
        why = settings.disabled_reason or "tracking is off"
        if failure == FAIL_CLOSED:
            raise BudgetCheckFailed(
                f"LLMLab hard mode could not check the budget ({why}); the call was not sent "
                '(budget_failure="closed")'
            )
        log_once(
            "hard-mode-open",
            logging.WARNING,
            "llmlab: hard mode could not check the budget (%s); calls are sent without a "
            'budget hold (budget_failure="open")',
            why,
        )
        return Plan(None, None, failure)
    try:
        return Plan(transport.reserver, build(), failure)
    except BudgetExceeded:
        raise
    except Exception as exc:  # noqa: BLE001
        _internal_failure(failure, exc)
        return Plan(None, None, failure)


def reserve_now(step: Plan) -> Optional[str]:
    """The round trip for ``step`` on this thread; the id to settle with, or ``None``.

    Raises ``BudgetExceeded`` (or a subclass) and nothing else: an error of the
    SDK's own is logged and handled like an unreachable server.
    """
    reserver, call = step.reserver, step.call
    if reserver is None or call is None:
        return None
    try:
        result = reserver.post(encode(call))
        if result.status in (200, 201, 422) or (
            result.status == 429 and _code(result.payload) == "budget_exceeded"
        ):
            reserver.note_answer()
        else:
            reserver.note_failure()
        return outcome(result, call, step.failure, reserver.settings.base_url)
    except BudgetExceeded:
        raise
    except Exception as exc:  # noqa: BLE001
        _internal_failure(step.failure, exc)
        return None


def _internal_failure(failure: str, exc: BaseException) -> None:
    """An error of the SDK's own in hard mode: logged, then handled like an unreachable server."""
    internal_error(exc)
    if failure == FAIL_CLOSED:
        raise BudgetCheckFailed(
            f"LLMLab hard mode failed inside the SDK ({exc!r}); the call was not sent "
            '(budget_failure="closed")'
        ) from None
    log_once(
        "hard-mode-internal",
        logging.WARNING,
        "llmlab: hard mode failed inside the SDK (%r); the call is sent without a budget hold",
        exc,
    )


def _code(payload: Any) -> Optional[str]:
    error = payload.get("error") if isinstance(payload, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


async def reserve_soon(step: Plan, release: Callable[[str], None]) -> Optional[str]:
    """``reserve_now`` for a coroutine: the round trip runs on a reservation thread.

    If the awaiting task is cancelled while the server is holding, the hold
    it may have made is released when the answer comes (``release``).
    """
    import asyncio

    reserver = step.reserver
    if reserver is None or step.call is None:
        return None
    try:
        future = reserver.executor().submit(_reserve_quietly, step)
    except Exception as exc:  # noqa: BLE001 - e.g. its threads were shut down by a reconfigure
        _internal_failure(step.failure, exc)
        return None
    try:
        held, error = await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        future.add_done_callback(functools.partial(_release_late, release))
        raise
    if error is not None:
        raise error
    return held


def _reserve_quietly(step: Plan) -> tuple[Optional[str], Optional[BudgetExceeded]]:
    # The refusal travels back as a value: raised in the caller's task, with its traceback.
    try:
        return reserve_now(step), None
    except BudgetExceeded as refused:
        return None, refused


def _release_late(
    release: Callable[[str], None],
    future: concurrent.futures.Future[tuple[Optional[str], Optional[BudgetExceeded]]],
) -> None:
    try:
        if future.cancelled():
            return
        held, _ = future.result()
        if held is not None:
            logger.debug("llmlab: releasing the hold %s of a cancelled call", held)
            release(held)
    except Exception as exc:  # noqa: BLE001
        internal_error(exc)
