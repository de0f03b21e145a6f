"""Temporal workflows. Replayed code: no I/O, clock or randomness here."""
