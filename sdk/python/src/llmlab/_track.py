"""``@track_cost`` and ``track()``: record every LLM call's model and usage, change nothing else.

The decorated function's signature, return value and exceptions are left
as they are. On the caller's thread the SDK only reads a few attributes of
the result and appends a record to the transport's queue; any error of its
own is swallowed (``_internal``).

Hard mode (``enforce_budget``) is the one exception, on purpose: before the
call, one round trip reserves its worst-case cost (``_reserve``), and a
refusal raises ``BudgetExceeded`` instead of calling the function. The
call's event then carries the ``reservation_id`` (its hold is settled when
the event is stored), and is sent at once rather than with the next batch.
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

from . import _reserve, _streams
from ._config import parse_budget_failure
from ._event import BUCKET_FIELDS
from ._extract import Found, extractor_for
from ._extract.failure import describe
from ._internal import internal_error
from ._runtime import RUNTIME

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Generator, Mapping
    from types import TracebackType

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")

_perf = time.perf_counter


#: A hard-mode call's hold: ``(reservation_id, model reserved for)``.
Held = tuple[str, Optional[str]]


class _Options:
    """What the decorator or ``track()`` was told; the response fills in the rest.

    ``hard`` is ``enforce_budget``: ``None`` follows ``configure(enforce_budget=...)``.
    """

    __slots__ = (
        "budget_failure",
        "hard",
        "max_output_tokens",
        "model",
        "project",
        "provider",
        "tags",
    )

    def __init__(
        self,
        provider: Optional[str],
        project: Optional[str],
        tags: Optional[Mapping[str, Any]],
        model: Optional[str],
        hard: Optional[bool] = None,
        max_output_tokens: Optional[int] = None,
        budget_failure: Optional[str] = None,
    ) -> None:
        self.provider = provider
        self.project = project
        self.tags: Optional[dict[str, str]] = (
            {str(k): str(v) for k, v in tags.items()} if tags else None
        )
        self.model = model
        self.hard = hard
        self.max_output_tokens = max_output_tokens
        self.budget_failure = (
            None
            if budget_failure is None
            else parse_budget_failure(budget_failure, "track_cost(budget_failure=...)")
        )

    def is_hard(self) -> bool:
        hard = self.hard
        return hard or (hard is None and RUNTIME.enforce_budget)


def _plan(
    opts: _Options, describe: Callable[[Optional[str], Optional[dict[str, str]]], Any]
) -> _reserve.Plan:
    """What a hard call must do first; raises only ``BudgetExceeded`` and its subclasses.

    ``describe(project, tags)`` gives the ``CallInfo``, from the labels the event will carry.
    """
    try:
        transport = RUNTIME.get_transport()
        settings = RUNTIME.settings
    except Exception as exc:  # noqa: BLE001
        internal_error(exc)
        transport = settings = None

    def build() -> _reserve.CallInfo:
        project = opts.project or (settings.project if settings is not None else None)
        tags: Optional[dict[str, str]] = None
        defaults = settings.tags if settings is not None else None
        if defaults or opts.tags:
            tags = {**(defaults or {}), **(opts.tags or {})}
        info: _reserve.CallInfo = describe(project, tags)
        return info

    return _reserve.plan(transport, settings, build, opts.budget_failure)


def _reserve_for(step: _reserve.Plan, reservation: Optional[str]) -> Optional[Held]:
    if reservation is None or step.call is None:
        return None
    return reservation, _reserve.model_of(step.call)


def _call_plan(
    target: _reserve.Target, opts: _Options, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> _reserve.Plan:
    return _plan(
        opts,
        lambda project, tags: _reserve.describe(
            target,
            args,
            kwargs,
            opts.provider,
            opts.model,
            opts.max_output_tokens,
            project,
            tags,
        ),
    )


def _release(held: Optional[Held]) -> None:
    """Release the hold of a call that will send no event (never raises)."""
    if held is None:
        return
    try:
        transport = RUNTIME.transport if RUNTIME.resolved else RUNTIME.get_transport()
        if transport is not None:
            transport.release(held[0])
    except Exception as exc:  # noqa: BLE001
        internal_error(exc)


def _release_id(reservation: str) -> None:
    _release((reservation, None))


def _emit(
    opts: _Options,
    start: float,
    found: Optional[Found],
    status: str,
    request: Any = None,
    *,
    held: Optional[Held] = None,
) -> None:
    """Queue one item for a finished call or stream (never raises).

    ``request`` is the request of a call that raised (its model is read on the
    worker); ``held`` the hold a hard-mode call's event settles.
    """
    try:
        transport = RUNTIME.transport if RUNTIME.resolved else RUNTIME.get_transport()
        if transport is None:
            return
        if held is None:
            extra = None if request is None else {"request": request}
            transport.enqueue((start, _perf() - start, status, opts, found, extra))
        else:
            extra = {"request": request, "reservation_id": held[0], "model": held[1]}
            transport.enqueue_urgent((start, _perf() - start, status, opts, found, extra))
    except Exception as exc:  # noqa: BLE001
        internal_error(exc)


def _emit_failure(
    opts: _Options, start: float, exc: BaseException, held: Optional[Held] = None
) -> None:
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
    _emit(opts, start, found, status, request, held=held)


def _handle_result(opts: _Options, start: float, result: Any, held: Optional[Held] = None) -> Any:
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
            if held is None:
                return _streams.follow(result, functools.partial(_emit, opts, start))
            return _streams.follow(
                result,
                functools.partial(_emit, opts, start, held=held),
                functools.partial(_release, held),
            )
        if held is None:
            transport.enqueue((start, _perf() - start, "ok", opts, handler(result), None))
        else:
            extra = {"reservation_id": held[0], "model": held[1]}
            item = (start, _perf() - start, "ok", opts, handler(result), extra)
            transport.enqueue_urgent(item)
    except Exception as exc:  # noqa: BLE001
        internal_error(exc)
        _release(held)
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
    target = _reserve.Target(fn)
    if inspect.isasyncgenfunction(fn):
        return _wrap_async_generator_function(fn, opts, target)
    if inspect.isgeneratorfunction(fn):
        return _wrap_generator_function(fn, opts, target)
    hard = opts.hard
    if _is_coroutine_function(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            if hard or (hard is None and RUNTIME.enforce_budget):
                return await _call_hard_async(fn, opts, target, args, kwargs)
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
        if hard or (hard is None and RUNTIME.enforce_budget):
            return _call_hard(fn, opts, target, args, kwargs)
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


def _is_coroutine_function(fn: Callable[..., Any]) -> bool:
    """``async def``, also behind a sync decorator that kept ``__wrapped__``: the async
    clients' ``create`` methods (openai and anthropic wrap them in ``required_args``)."""
    if inspect.iscoroutinefunction(fn):
        return True
    try:
        return inspect.iscoroutinefunction(inspect.unwrap(fn))
    except ValueError:  # a __wrapped__ cycle
        return False


def _call_hard(
    fn: Callable[..., Any],
    opts: _Options,
    target: _reserve.Target,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """A hard-mode call: reserve (or raise ``BudgetExceeded``), call, settle."""
    step = _call_plan(target, opts, args, kwargs)
    held = _reserve_for(step, _reserve.reserve_now(step))
    start = _perf()
    try:
        result = fn(*args, **kwargs)
    except Exception as exc:
        _emit_failure(opts, start, exc, held)
        raise
    except BaseException:
        _release(held)  # KeyboardInterrupt, SystemExit: nothing is recorded, nothing held
        raise
    if held is not None and inspect.isawaitable(result):
        # A sync function that hands back the call to await: settle once it is awaited.
        return _settle_when_awaited(result, opts, start, held)
    return _handle_result(opts, start, result, held)


async def _settle_when_awaited(
    awaitable: Awaitable[Any], opts: _Options, start: float, held: Held
) -> Any:
    try:
        result = await awaitable
    except Exception as exc:
        _emit_failure(opts, start, exc, held)
        raise
    except BaseException:
        _release(held)
        raise
    return _handle_result(opts, start, result, held)


async def _call_hard_async(
    fn: Callable[..., Any],
    opts: _Options,
    target: _reserve.Target,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    step = _call_plan(target, opts, args, kwargs)
    held = _reserve_for(step, await _reserve.reserve_soon(step, _release_id))
    start = _perf()
    try:
        result = await fn(*args, **kwargs)
    except Exception as exc:
        _emit_failure(opts, start, exc, held)
        raise
    except BaseException:
        _release(held)  # a cancelled task: nothing is recorded, nothing stays held
        raise
    return _handle_result(opts, start, result, held)


def _wrap_generator_function(fn: F, opts: _Options, target: _reserve.Target) -> F:
    @functools.wraps(fn)
    def gen_wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        # Runs on the first next(): that is when the provider is called, so the hold too.
        held = None
        if opts.is_hard():
            step = _call_plan(target, opts, args, kwargs)
            held = _reserve_for(step, _reserve.reserve_now(step))
        start = _perf()
        gen = fn(*args, **kwargs)
        if RUNTIME.get_transport() is None:
            return (yield from gen)
        done = _streams.new_done(functools.partial(_emit, opts, start, held=held))
        return (yield from _streams.observe_generator(gen, done))

    return gen_wrapper  # type: ignore[return-value]


def _wrap_async_generator_function(fn: F, opts: _Options, target: _reserve.Target) -> F:
    @functools.wraps(fn)
    async def agen_wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        # No `yield from` for async generators: forward asend/athrow/aclose by hand.
        held = None
        if opts.is_hard():
            step = _call_plan(target, opts, args, kwargs)
            held = _reserve_for(step, await _reserve.reserve_soon(step, _release_id))
        start = _perf()
        agen = fn(*args, **kwargs)
        inner: AsyncGenerator[Any, Any] = agen
        if RUNTIME.get_transport() is not None:
            done = _streams.new_done(functools.partial(_emit, opts, start, held=held))
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
def track_cost(
    fn: F,
    *,
    provider: Optional[str] = None,
    project: Optional[str] = None,
    tags: Optional[Mapping[str, Any]] = None,
    model: Optional[str] = None,
    enforce_budget: Optional[bool] = None,
    max_output_tokens: Optional[int] = None,
    budget_failure: Optional[str] = None,
) -> F: ...


@overload
def track_cost(
    fn: None = None,
    *,
    provider: Optional[str] = None,
    project: Optional[str] = None,
    tags: Optional[Mapping[str, Any]] = None,
    model: Optional[str] = None,
    enforce_budget: Optional[bool] = None,
    max_output_tokens: Optional[int] = None,
    budget_failure: Optional[str] = None,
) -> Callable[[F], F]: ...


def track_cost(
    fn: Optional[F] = None,
    *,
    provider: Optional[str] = None,
    project: Optional[str] = None,
    tags: Optional[Mapping[str, Any]] = None,
    model: Optional[str] = None,
    enforce_budget: Optional[bool] = None,
    max_output_tokens: Optional[int] = None,
    budget_failure: Optional[str] = None,
) -> Union[F, Callable[[F], F]]:
    """Record the cost of every call of the decorated function.

    Works bare (``@track_cost``) or with options, on sync and async
    functions, generators and async generators. The function should return
    the provider's response (or stream); its model and raw usage are sent to
    LLMLab in the background. ``provider`` names the billing provider (by
    default it is detected from the response), ``project`` and ``tags`` label
    the event, and ``model`` is used when the response does not say.

    ``enforce_budget=True`` is the hard mode (``None``, the default, follows
    ``llmlab.configure(enforce_budget=...)``): each call first reserves its
    worst-case cost on the server, and raises ``llmlab.BudgetExceeded``
    without calling the function when a hard budget cannot cover it. The
    bound comes from the call's own arguments when they are the provider
    request (``model=``, ``messages=``/``input=``/``contents=``,
    ``max_tokens=``…), else from ``model`` and ``max_output_tokens`` here.
    ``budget_failure`` (``"open"``/``"closed"``) overrides ``configure``'s for
    when the server cannot be asked. Wrap a client method to reserve from
    the exact request: ``create = track_cost(client.chat.completions.create,
    enforce_budget=True)``.
    """
    opts = _Options(
        provider, project, tags, model, enforce_budget, max_output_tokens, budget_failure
    )
    if fn is not None:
        return _wrap(fn, opts)

    def decorate(func: F) -> F:
        return _wrap(func, opts)

    return decorate


class track:
    """Context manager for explicit recording: ``with llmlab.track(...) as t: t.record(resp)``.

    With ``enforce_budget=True`` (or ``configure(enforce_budget=True)``),
    entering it reserves the call's worst-case cost first and raises
    ``llmlab.BudgetExceeded`` instead of running the block when a hard budget
    cannot cover it. ``request`` is the provider request about to be sent
    (the keyword arguments of ``client.chat.completions.create`` and the like):
    the tightest bound. Without it, ``model`` and ``max_output_tokens`` are
    reserved for. The first ``t.record(...)`` settles the hold; a block that
    records nothing releases it, and one that raises records the failure.
    """

    __slots__ = ("_held", "_opts", "_recorded", "_request", "_start")

    def __init__(
        self,
        provider: Optional[str] = None,
        project: Optional[str] = None,
        tags: Optional[Mapping[str, Any]] = None,
        model: Optional[str] = None,
        *,
        enforce_budget: Optional[bool] = None,
        request: Optional[Mapping[str, Any]] = None,
        max_output_tokens: Optional[int] = None,
        budget_failure: Optional[str] = None,
    ) -> None:
        self._opts = _Options(
            provider, project, tags, model, enforce_budget, max_output_tokens, budget_failure
        )
        self._request = request
        self._held: Optional[Held] = None
        self._start = _perf()
        self._recorded = 0

    def _plan(self) -> _reserve.Plan:
        opts, request = self._opts, self._request
        return _plan(
            opts,
            lambda project, tags: _reserve.from_arguments(
                request or {},
                opts.provider,
                None,
                opts.model,
                opts.max_output_tokens,
                project,
                tags,
            ),
        )

    def __enter__(self) -> track:
        self._held = None
        if self._opts.is_hard():
            step = self._plan()
            self._held = _reserve_for(step, _reserve.reserve_now(step))
        self._start = _perf()
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        held, self._held = self._held, None
        if exc is not None and isinstance(exc, Exception) and self._recorded == 0:
            _emit_failure(self._opts, self._start, exc, held)
        else:
            _release(held)

    async def __aenter__(self) -> track:
        self._held = None
        if self._opts.is_hard():
            step = self._plan()
            self._held = _reserve_for(step, await _reserve.reserve_soon(step, _release_id))
        self._start = _perf()
        return self

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
        requested_service_tier: Optional[str] = None,
        upstream_host: Optional[str] = None,
        batch: Optional[bool] = None,
        cost_usd: Any = None,
        status: Optional[str] = None,
    ) -> R:
        """Record a response (or follow a stream), or record counts given by hand.

        ``t.record(response)`` returns ``response`` (the same stream object,
        followed, when it is one). ``t.record(model=..., input_tokens=...,
        output_tokens=...)`` records normalized token buckets for any provider;
        ``usage=`` sends a raw provider usage object instead.
        ``requested_service_tier=`` (the tier the request asked for) makes the
        event note a response served on another tier; ``upstream_host=`` (the
        host the call went to, e.g. ``eu.api.openai.com``) lets the server
        apply OpenAI's data-residency uplift.
        """
        held, self._held = self._held, None  # the first record settles the hold
        try:
            self._recorded += 1
            opts = self._opts
            if provider is not None or model is not None:
                opts = _Options(
                    provider or opts.provider, opts.project, opts.tags, model or opts.model
                )
            if response is not None:
                return _handle_result(opts, self._start, response, held)  # type: ignore[no-any-return]
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
                "requested_service_tier": requested_service_tier,
                "upstream_host": upstream_host,
                "batch": batch,
                "cost_usd": cost_usd,
            }
            provider_name = opts.provider or "unknown"
            got = None if usage is None else (provider_name, opts.model, usage, None, None)
            item = (self._start, _perf() - self._start, status or "ok", opts, got, extra)
            if held is None:
                transport.enqueue(item)
            else:
                extra["reservation_id"], extra["model"] = held
                transport.enqueue_urgent(item)
        except Exception as exc:  # noqa: BLE001
            internal_error(exc)
            _release(held)
        return response
