"""The erase function's Lambda entry point."""
