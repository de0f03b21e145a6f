"""The shapes identifiers must have: each pattern written once, checked at the edge.

Patterns are anchored regular expressions as strings, usable by pydantic, FastAPI and `re`.
"""

from __future__ import annotations

# Ids this service makes (orders, notifications): UUIDs in their text form.
ORDER_ID_PATTERN = r"^[0-9a-f-]{36}$"
NOTIFICATION_ID_PATTERN = ORDER_ID_PATTERN

# Ids the marketplace makes (users, listings): what a URL path and a log line carry safely.
REFERENCE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"

# Payment providers' references (escrow ids, payment intents) are longer.
PAYMENT_REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$"
TRANSACTION_HASH_PATTERN = r"^0x[0-9a-fA-F]{64}$"

TRACKING_NUMBER_PATTERN = r"^[A-Za-z0-9-]{4,40}$"
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_.:-]{1,100}$"
