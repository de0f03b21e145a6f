"""The SQL read model: tables, engine and the queries the workflow's activities and the API run."""
