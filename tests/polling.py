"""The one way a test waits for something that happens in another task or process."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def eventually(check: Callable[[], T | Awaitable[T]], *, timeout: float = 10.0,
                     interval: float = 0.05) -> T:
    """Call `check` (plain or async) until it returns a truthy value without raising an
    AssertionError, and return that value.

    Past `timeout` seconds the last AssertionError is raised again, or, if the check just
    kept returning a falsy value, an AssertionError that shows it.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        failure: AssertionError | None = None
        try:
            value: Any = check()
            if inspect.isawaitable(value):
                value = await value
        except AssertionError as err:
            failure = err
        else:
            if value:
                return value
        if loop.time() >= deadline:
            if failure is not None:
                raise failure
            raise AssertionError(f"still {value!r} after {timeout} s")
        await asyncio.sleep(interval)
