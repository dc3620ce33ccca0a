"""The sla function's Lambda entry point."""
