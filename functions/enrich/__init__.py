"""The enrich function's Lambda entry point."""
