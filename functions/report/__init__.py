"""The report consumer's Lambda entry point."""
