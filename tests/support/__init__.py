"""Shared test helpers: API Gateway events, a Lambda context, the dev secrets."""
