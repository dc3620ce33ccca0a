"""The route function's Lambda entry point."""
