"""The HTTP API: validation, mapping HTTP to Temporal client calls and back."""
