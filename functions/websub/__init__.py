"""The websub function's Lambda entry point."""
