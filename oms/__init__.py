"""oms: settings, Temporal client factory and the command-line interface."""
