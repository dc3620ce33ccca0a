"""Answering from socialcrm: the platforms' rules for replies (``policy``); sending is to come."""
