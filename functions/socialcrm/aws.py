"""AWS clients made on first use, so that importing or building a store costs no client."""

from __future__ import annotations

from typing import Any


class LazyClient:
    """A class attribute ``client = LazyClient("dynamodb")``: the instance's ``_client`` (one given to its
    constructor, for the tests), else a boto3 client made the first time it is read and kept."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        if instance._client is None:
            import boto3

            instance._client = boto3.client(self.service)
        return instance._client
