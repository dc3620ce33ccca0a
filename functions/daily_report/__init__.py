"""The daily report's Lambda entry point (invoked by EventBridge Scheduler)."""
