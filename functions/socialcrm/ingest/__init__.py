"""Ingestion: a platform's signed delivery verified, normalised and queued, and its handshakes answered.

``service.ingest_delivery`` and ``service.answer_handshake`` are the domain functions; ``runtime.IngestRuntime``
is what the webhook routes are built over (the Lambda handler and the local stack build one each).
"""
