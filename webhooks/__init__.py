"""Signed webhooks from the shipping provider and the escrow contract, and their inbox.

The package owns the inbox's whole life: the signature, the bodies, ingest on the API side, the
inbox repository (every read and write of `webhook_events`, by the API and by the worker's
projection alike) and the outcomes an event can have. What an event does to an order is pure
domain (`domain.events`); the workflow receives it as the `external_event` signal.
"""
