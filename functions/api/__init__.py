"""The api function's Lambda entry point."""
