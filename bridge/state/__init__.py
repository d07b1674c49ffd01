"""The session state (one writer: the `process_*` functions) and the read-only view readers get."""
