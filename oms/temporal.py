"""One way to connect to Temporal, shared by the API, the worker, the CLI and the tests."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter


async def connect(address: str, namespace: str = "default", *, lazy: bool = False) -> Client:
    # The pydantic converter carries Decimal, date and datetime exactly; the default one does not.
    return await Client.connect(
        address, namespace=namespace, data_converter=pydantic_data_converter, lazy=lazy
    )
