"""The privacy function's Lambda entry point."""
