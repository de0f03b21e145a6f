"""Benchmarks of the service; each runnable module says what it measures and how."""
