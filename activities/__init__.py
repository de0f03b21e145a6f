"""Temporal activities: the only code that writes the read model or calls payment services."""
