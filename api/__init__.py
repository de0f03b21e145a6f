"""The HTTP API: commands go to Temporal, reads come from the SQL read model."""
