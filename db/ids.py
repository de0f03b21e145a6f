"""Deterministic ids, so a retried activity writes the same rows rather than new ones."""

from __future__ import annotations

import uuid

_ROWS = uuid.UUID("6f1c1b4e-2b55-4a8e-9a57-0c9f3f0d7a11")


def row_id(*parts: object) -> str:
    """A stable id for a row: the same parts always give the same id."""
    return str(uuid.uuid5(_ROWS, "/".join(str(p) for p in parts)))
