"""What an operator reads when a part of oms cannot start: one line naming the setting and
what is wrong with it, never a traceback."""

from __future__ import annotations

import re

from sqlalchemy import make_url
from sqlalchemy.exc import DBAPIError

from oms import processes


class CannotStart(Exception):
    """A problem of the machine or the settings, told in one line."""


def require_free_port(variable: str, port: int, host: str = "127.0.0.1") -> None:
    if port and processes.port_in_use(port, host):
        raise CannotStart(f"{variable}: port {port} on {host} is already in use; stop what "
                          "holds it or choose another")


def database_unreachable(url: str, err: DBAPIError | TimeoutError) -> CannotStart:
    where = make_url(url).render_as_string(hide_password=True)
    cause = err.orig if isinstance(err, DBAPIError) and err.orig else err
    return CannotStart(f"OMS_DATABASE_URL: cannot use the database at {where}: "
                       f"{_first_line(cause) if str(cause) else 'no answer in time'}")


def temporal_unreachable(address: str, err: BaseException) -> CannotStart:
    # The SDK's text nests the transport's errors; the innermost message is the news.
    found = re.findall(r'message: "([^"]+)"', str(err))
    return CannotStart(f"OMS_TEMPORAL_ADDRESS: cannot reach Temporal at {address}: "
                       f"{found[-1] if found else _first_line(err)}")


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]
