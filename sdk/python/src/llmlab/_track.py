"""``@track_cost`` and ``track()``: record every LLM call's model and usage, change nothing else.

The decorated function's signature, return value and exceptions are left
as they are. On the caller's thread the SDK only reads a few attributes of
the result and appends a record to the transport's queue; any error of its
own is swallowed (``_internal``).
"""

from __future__ import annotations

import functools
import inspect
import time
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Optional,
    TypeVar,
    Union,
    overload,
)

from . import _streams
from ._event import BUCKET_FIELDS
from ._extract import Found, extractor_for
from ._extract.failure import describe
from ._internal import internal_error
from ._runtime import RUNTIME

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Generator, Mapping
    from types import TracebackType

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")

_perf = time.perf_counter


class _Options:
    """What the decorator or ``track()`` was told; the response fills in the rest."""

    __slots__ = ("model", "project", "provider", "tags")

    def __init__(
        self,
        provider: Optional[str],
        project: Optional[str],
        tags: Optional[Mapping[str, Any]],
        model: Optional[str],
    ) -> None:
        self.provider = provider
        self.project = project
        self.tags: Optional[dict[str, str]] = (
            {str(k): str(v) for k, v in tags.items()} if tags else None
        )
        self.model = model


def _emit(
    opts: _Options, start: float, found: Optional[Found], status: str, request: Any = None
) -> None:
    """Queue one item for a finished call or stream (never raises).

    ``request`` is the request of a call that raised (its model is read on the worker).
    """
    try:
        transport = RUNTIME.transport if RUNTIME.resolved else RUNTIME.get_transport()
        if transport is not None:
            extra = None if request is None else {"request": request}
            transport.enqueue((start, _perf() - start, status, opts, found, extra))
    except Exception as exc:  # noqa: BLE001
        internal_error(exc)


def _emit_failure(opts: _Options, start: float, exc: BaseException) -> None:
    """Queue one item for a call that raised (never raises).

    A provider's error answer (404 unknown model, 429, 500) is recorded as
    the proxy records it: the requested model and the HTTP status, which the
    server prices at $0. Only attributes are read here; the request's model
    is parsed on the worker.
    """
    try:
        status, found, request = describe(exc)
    except Exception as error:  # noqa: BLE001
        internal_error(error)
        status, found, request = "error", None, None
    _emit(opts, start, found, status, request)


def _handle_result(opts: _Options, start: float, result: Any) -> Any:
    """Record a returned response, or follow a returned stream. Returns what the caller gets.

    The hot path: one dict lookup for the result's class, a few attribute
    reads, a tuple, and an append to the queue.
    """
    transport = RUNTIME.transport
    if transport is None:
        transport = None if RUNTIME.resolved else RUNTIME.get_transport()
        if transport is None:
            return result
    try:
        cls = type(result)
        handler = _HANDLERS.get(cls)
        if handler is None:
            handler = _handler_for(cls)
        if handler is _FOLLOW:
            return _streams.follow(result, functools.partial(_emit, opts, start))
        transport.enqueue((start, _perf() - start, "ok", opts, handler(result), None))
    except Exception as exc:  # noqa: BLE001
        internal_error(exc)
    return result


def _follow_marker(obj: Any) -> None:
    return None


_FOLLOW = _follow_marker
_HANDLERS: dict[type, Callable[[Any], Optional[Found]]] = {}


def _handler_for(cls: type) -> Callable[[Any], Optional[Found]]:
    """Per class: the extractor for a response, or ``_FOLLOW`` for a stream."""
    handler = extractor_for(cls) if _streams.kind_of_class(cls) == _streams.RESPONSE else _FOLLOW
    _HANDLERS[cls] = handler
    return handler


def _wrap(fn: F, opts: _Options) -> F:
    if inspect.isasyncgenfunction(fn):
        return _wrap_async_generator_function(fn, opts)
    if inspect.isgeneratorfunction(fn):
        return _wrap_generator_function(fn, opts)
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            start = _perf()
            try:
                result = await fn(*args, **kwargs)
            except Exception as exc:
                _emit_failure(opts, start, exc)
                raise
            return _handle_result(opts, start, result)

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = _perf()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            _emit_failure(opts, start, exc)
            raise
        # The common case inlined: a response of a class seen before, tracking on.
        transport = RUNTIME.transport
        if transport is not None:
            handler = _HANDLERS.get(type(result))
            if handler is not None and handler is not _FOLLOW:
                try:
                    transport.enqueue((start, _perf() - start, "ok", opts, handler(result), None))
                except Exception as exc:  # noqa: BLE001
                    internal_error(exc)
                return result
        return _handle_result(opts, start, result)

    return wrapper  # type: ignore[return-value]


def _wrap_generator_function(fn: F, opts: _Options) -> F:
    @functools.wraps(fn)
    def gen_wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        start = _perf()
        gen = fn(*args, **kwargs)
        if RUNTIME.get_transport() is None:
            return (yield from gen)
        done = _streams.new_done(functools.partial(_emit, opts, start))
        return (yield from _streams.observe_generator(gen, done))

    return gen_wrapper  # type: ignore[return-value]


def _wrap_async_generator_function(fn: F, opts: _Options) -> F:
    @functools.wraps(fn)
    async def agen_wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        # No `yield from` for async generators: forward asend/athrow/aclose by hand.
        start = _perf()
        agen = fn(*args, **kwargs)
        inner: AsyncGenerator[Any, Any] = agen
        if RUNTIME.get_transport() is not None:
            done = _streams.new_done(functools.partial(_emit, opts, start))
            inner = _streams.observe_async_generator(agen, done)
        try:
            try:
                item = await inner.__anext__()
            except StopAsyncIteration:
                return
            while True:
                try:
                    sent = yield item
                except GeneratorExit:
                    raise
                except BaseException as exc:  # noqa: BLE001 - forwarded
                    try:
                        item = await inner.athrow(exc)
                    except StopAsyncIteration:
                        return
                else:
                    try:
                        item = await inner.asend(sent)
                    except StopAsyncIteration:
                        return
        except GeneratorExit:
            await inner.aclose()
            raise

    return agen_wrapper  # type: ignore[return-value]


@overload
def track_cost(fn: F) -> F: ...


@overload
def track_cost(
    fn: None = None,
    *,
    provider: Optional[str] = None,
    project: Optional[str] = None,
    tags: Optional[Mapping[str, Any]] = None,
    model: Optional[str] = None,
) -> Callable[[F], F]: ...


def track_cost(
    fn: Optional[F] = None,
    *,
    provider: Optional[str] = None,
    project: Optional[str] = None,
    tags: Optional[Mapping[str, Any]] = None,
    model: Optional[str] = None,
) -> Union[F, Callable[[F], F]]:
    """Record the cost of every call of the decorated function.

    Works bare (``@track_cost``) or with options, on sync and async
    functions, generators and async generators. The function should return
    the provider's response (or stream); its model and raw usage are sent to
    LLMLab in the background. ``provider`` names the billing provider (by
    default it is detected from the response), ``project`` and ``tags`` label
    the event, and ``model`` is used when the response does not say.
    """
    opts = _Options(provider, project, tags, model)
    if fn is not None:
        return _wrap(fn, opts)

    def decorate(func: F) -> F:
        return _wrap(func, opts)

    return decorate


class track:
    """Context manager for explicit recording: ``with llmlab.track(...) as t: t.record(resp)``."""

    __slots__ = ("_opts", "_recorded", "_start")

    def __init__(
        self,
        provider: Optional[str] = None,
        project: Optional[str] = None,
        tags: Optional[Mapping[str, Any]] = None,
        model: Optional[str] = None,
    ) -> None:
        self._opts = _Options(provider, project, tags, model)
        self._start = _perf()
        self._recorded = 0

    def __enter__(self) -> track:
        self._start = _perf()
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if exc is not None and isinstance(exc, Exception) and self._recorded == 0:
            _emit_failure(self._opts, self._start, exc)

    async def __aenter__(self) -> track:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def record(
        self,
        response: R = None,  # type: ignore[assignment]
        *,
        model: Optional[str] = None,
        provider: Optional[str] = None,
        input_tokens: Optional[int] = None,
        output_tokens: Optional[int] = None,
        cache_read_tokens: Optional[int] = None,
        cache_write_tokens: Optional[int] = None,
        cache_write_1h_tokens: Optional[int] = None,
        reasoning_tokens: Optional[int] = None,
        usage: Any = None,
        service_tier: Optional[str] = None,
        batch: Optional[bool] = None,
        cost_usd: Any = None,
        status: Optional[str] = None,
    ) -> R:
        """Record a response (or follow a stream), or record counts given by hand.

        ``t.record(response)`` returns ``response`` (the same stream object,
        followed, when it is one). ``t.record(model=..., input_tokens=...,
        output_tokens=...)`` records normalized token buckets for any provider;
        ``usage=`` sends a raw provider usage object instead.
        """
        try:
            self._recorded += 1
            opts = self._opts
            if provider is not None or model is not None:
                opts = _Options(
                    provider or opts.provider, opts.project, opts.tags, model or opts.model
                )
            if response is not None:
                return _handle_result(opts, self._start, response)  # type: ignore[no-any-return]
            transport = RUNTIME.get_transport()
            if transport is None:
                return response
            buckets = {
                name: int(value)
                for name, value in zip(
                    BUCKET_FIELDS,
                    (
                        input_tokens,
                        cache_read_tokens,
                        cache_write_tokens,
                        cache_write_1h_tokens,
                        output_tokens,
                        reasoning_tokens,
                    ),
                )
                if value is not None
            }
            extra = {
                "buckets": buckets,
                "service_tier": service_tier,
                "batch": batch,
                "cost_usd": cost_usd,
            }
            provider_name = opts.provider or "unknown"
            got = None if usage is None else (provider_name, opts.model, usage, None, None)
            transport.enqueue(
                (self._start, _perf() - self._start, status or "ok", opts, got, extra)
            )
        except Exception as exc:  # noqa: BLE001
            internal_error(exc)
        return response
