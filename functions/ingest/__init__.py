"""The ingest function's Lambda entry point."""
