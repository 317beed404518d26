"""Following streamed responses so their usage is recorded when they end, close or fail.

Provider stream objects (openai ``Stream``/``AsyncStream``, anthropic raw
streams and ``MessageStream``) are changed in place: their ``_iterator`` is
wrapped, so the caller keeps the very same object (identity, type, methods).
Stream managers (``messages.stream()``, ``chat.completions.stream()``,
``responses.stream()``) get their pending request wrapped, so the stream they
open on ``__enter__`` is followed. Plain generators and async generators
(google-genai streams, user generators) are wrapped in a generator that
yields the same items and forwards ``send``/``throw``/``close``.
"""

from __future__ import annotations

import inspect
import logging
import types
import weakref
from typing import TYPE_CHECKING, Any, Callable, Optional

from ._extract import Found, StreamAccumulator
from ._extract.failure import describe
from ._internal import internal_error, log_once

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Generator

#: Called once per stream with what was found, the status (``"ok"``, ``"error"``,
#: or the HTTP status of a call the provider refused) and the request of a call
#: that raised before its stream began (for the requested model), else None.
Finish = Callable[[Optional[Found], str, Any], None]

RESPONSE, STREAM, MANAGER, GENERATOR, ASYNC_GENERATOR = range(5)

_KIND_CACHE: dict[type, int] = {}


def kind_of(obj: Any) -> int:
    """How a return value must be handled; cached per class."""
    return kind_of_class(type(obj))


def kind_of_class(cls: type) -> int:
    kind = _KIND_CACHE.get(cls)
    if kind is None:
        kind = _KIND_CACHE[cls] = _classify(cls)
    return kind


def _classify(cls: type) -> int:
    if issubclass(cls, types.GeneratorType):
        return GENERATOR
    if issubclass(cls, types.AsyncGeneratorType):
        return ASYNC_GENERATOR
    module = getattr(cls, "__module__", "") or ""
    if module.startswith(("openai", "anthropic")):
        if cls.__name__.endswith("StreamManager"):
            return MANAGER
        if hasattr(cls, "__next__") or hasattr(cls, "__anext__"):
            return STREAM
    return RESPONSE


class _Once:
    """Calls ``finish`` at most once, with the accumulator's result."""

    __slots__ = ("acc", "finish")

    def __init__(self, acc: StreamAccumulator, finish: Finish) -> None:
        self.acc = acc
        self.finish: Optional[Finish] = finish

    def __call__(self, status: str, failure: Optional[BaseException] = None) -> None:
        """Finish with ``status``; ``failure`` is the exception the stream's request raised."""
        finish = self.finish
        if finish is None:
            return
        self.finish = None
        try:
            found, request = self.acc.result(), None
            if failure is not None:
                status, raised, request = describe(failure)
                found = found or raised
            finish(found, status, request)
        except Exception as exc:  # noqa: BLE001
            internal_error(exc)

    def observe(self, item: Any) -> None:
        try:
            self.acc.observe(item)
        except Exception as exc:  # noqa: BLE001
            internal_error(exc)


class ObservedIterator:
    """Stands in for a sync stream's ``_iterator``: passes items through, watches them."""

    __slots__ = ("__weakref__", "_done", "_inner")

    def __init__(self, inner: Any, done: _Once) -> None:
        self._inner = inner
        self._done = done

    def __iter__(self) -> ObservedIterator:
        return self

    def __next__(self) -> Any:
        try:
            item = self._inner.__next__()
        except StopIteration:
            self._done("ok")
            raise
        except Exception:
            self._done("error")
            raise
        self._done.observe(item)
        return item

    def close(self) -> None:
        try:
            close = getattr(self._inner, "close", None)
            if close is not None:
                close()
        finally:
            self._done("ok")

    def __del__(self) -> None:
        # A stream dropped half-read is recorded with whatever usage it had shown.
        self._done("ok")


class AsyncObservedIterator:
    """Stands in for an async stream's ``_iterator``."""

    __slots__ = ("__weakref__", "_done", "_inner")

    def __init__(self, inner: Any, done: _Once) -> None:
        self._inner = inner
        self._done = done

    def __aiter__(self) -> AsyncObservedIterator:
        return self

    async def __anext__(self) -> Any:
        try:
            item = await self._inner.__anext__()
        except StopAsyncIteration:
            self._done("ok")
            raise
        except Exception:
            self._done("error")
            raise
        self._done.observe(item)
        return item

    async def aclose(self) -> None:
        try:
            aclose = getattr(self._inner, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            self._done("ok")

    def __del__(self) -> None:
        self._done("ok")


def patch_stream(stream: Any, finish: Finish) -> Optional[bool]:
    """Follow a provider stream in place. False when its shape is not one we know, ``None``
    when it is followed already (returned through two decorated functions: ``finish``
    is not called, the first one records it)."""
    raw = getattr(stream, "__dict__", {}).get("_raw_stream")
    target = raw if raw is not None else stream
    attrs = getattr(target, "__dict__", None)
    if attrs is None:
        return False
    inner = attrs.get("_iterator")
    if inner is None:
        inner = getattr(target, "_iterator", None)  # anthropic: a cached_property
    if inner is None:
        return False
    if isinstance(inner, (ObservedIterator, AsyncObservedIterator)):
        return None
    done = _Once(StreamAccumulator(), finish)
    is_async = hasattr(inner, "__anext__")
    observed: Any = (
        AsyncObservedIterator(inner, done) if is_async else ObservedIterator(inner, done)
    )
    attrs["_iterator"] = observed
    _patch_close(target, observed, is_async)
    return True


def _patch_close(target: Any, observed: Any, is_async: bool) -> None:
    """Make ``close()`` record too; via a weak reference so no cycle keeps the stream alive."""
    cls_close = getattr(type(target), "close", None)
    if cls_close is None:
        return
    ref = weakref.ref(target)
    done: _Once = observed._done
    if is_async and inspect.iscoroutinefunction(cls_close):

        async def aclose() -> None:
            obj = ref()
            try:
                if obj is not None:
                    await cls_close(obj)
            finally:
                done("ok")

        target.__dict__["close"] = aclose
    else:

        def close() -> None:
            obj = ref()
            try:
                if obj is not None:
                    cls_close(obj)
            finally:
                done("ok")

        target.__dict__["close"] = close


def patch_manager(manager: Any, finish: Finish) -> bool:
    """Follow the stream a not-yet-entered stream manager will open."""
    attrs = getattr(manager, "__dict__", None)
    if attrs is None:
        return False
    for key, value in attrs.items():
        if not key.endswith("__api_request"):
            continue
        if inspect.isawaitable(value):
            attrs[key] = _await_then_patch(value, finish)
            return True
        if callable(value):
            attrs[key] = _call_then_patch(value, finish)
            return True
    return False


def _call_then_patch(request: Callable[[], Any], finish: Finish) -> Callable[[], Any]:
    def api_request() -> Any:
        try:
            raw = request()
        except Exception as exc:
            _Once(StreamAccumulator(), finish)("error", exc)
            raise
        follow(raw, finish)
        return raw

    return api_request


async def _await_then_patch(request: Awaitable[Any], finish: Finish) -> Any:
    try:
        raw = await request
    except Exception as exc:
        _Once(StreamAccumulator(), finish)("error", exc)
        raise
    follow(raw, finish)
    return raw


def follow(obj: Any, finish: Finish, unfollowed: Optional[Callable[[], None]] = None) -> Any:
    """Follow ``obj`` if it is a stream; returns what the caller should get. Never raises.

    ``unfollowed`` is called when ``finish`` never will be: a stream of a
    shape we do not know, or one already followed by another decorator.
    """
    try:
        kind = kind_of(obj)
        if kind == STREAM:
            patched = patch_stream(obj, finish)
            if patched is False:
                _unknown(obj)
            if not patched and unfollowed is not None:
                unfollowed()
            return obj
        if kind == MANAGER:
            if not patch_manager(obj, finish):
                _unknown(obj)
                if unfollowed is not None:
                    unfollowed()
            return obj
        if kind == GENERATOR:
            return observe_generator(obj, _Once(StreamAccumulator(), finish))
        if kind == ASYNC_GENERATOR:
            return observe_async_generator(obj, _Once(StreamAccumulator(), finish))
    except Exception as exc:  # noqa: BLE001
        internal_error(exc)
        if unfollowed is not None:
            unfollowed()
    return obj


def _unknown(obj: Any) -> None:
    log_once(
        f"unknown-stream-{type(obj).__qualname__}",
        logging.WARNING,
        "llmlab: cannot follow a %s.%s (an SDK version this llmlab does not know); "
        "its usage is not recorded",
        type(obj).__module__,
        type(obj).__qualname__,
    )


def observe_generator(gen: Generator[Any, Any, Any], done: _Once) -> Generator[Any, Any, Any]:
    """Yield what ``gen`` yields, forward send/throw/close, then record (PEP 380 expansion)."""
    failure: Optional[BaseException] = None
    try:
        try:
            item = next(gen)
        except StopIteration as stop:
            return stop.value
        while True:
            done.observe(item)
            try:
                sent = yield item
            except GeneratorExit:
                raise
            except BaseException as exc:  # noqa: BLE001 - forwarded to the inner generator
                try:
                    item = gen.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    item = gen.send(sent)
                except StopIteration as stop:
                    return stop.value
    except GeneratorExit:
        gen.close()
        raise
    except Exception as exc:
        failure = exc
        raise
    finally:
        done("error" if failure is not None else "ok", failure)
        failure = None  # no cycle through the traceback's frame


async def observe_async_generator(
    agen: AsyncGenerator[Any, Any], done: _Once
) -> AsyncGenerator[Any, Any]:
    """The async-generator twin of ``observe_generator``."""
    failure: Optional[BaseException] = None
    try:
        try:
            item = await agen.__anext__()
        except StopAsyncIteration:
            return
        while True:
            done.observe(item)
            try:
                sent = yield item
            except GeneratorExit:
                raise
            except BaseException as exc:  # noqa: BLE001 - forwarded to the inner generator
                try:
                    item = await agen.athrow(exc)
                except StopAsyncIteration:
                    return
            else:
                try:
                    item = await agen.asend(sent)
                except StopAsyncIteration:
                    return
    except GeneratorExit:
        await agen.aclose()
        raise
    except Exception as exc:
        failure = exc
        raise
    finally:
        done("error" if failure is not None else "ok", failure)
        failure = None  # no cycle through the traceback's frame


def new_done(finish: Finish) -> _Once:
    """A fresh once-only finisher with its own accumulator (for the decorator's generators)."""
    return _Once(StreamAccumulator(), finish)
