"""Settings of each function, read once from the environment by its handler (and by the local stack)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from socialcrm.errors import ConfigurationError
from socialcrm.secrets import SecretsSource


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None):  # type: ignore[no-untyped-def]
        try:
            return cls.model_validate(dict(os.environ if env is None else env))
        except ValidationError as exc:
            missing = ", ".join(str(err["loc"][0]) for err in exc.errors())
            raise ConfigurationError(f"{cls.__name__}: missing or invalid environment: {missing}") from exc


class SecretsSettings(_Settings):
    secrets_file: str | None = Field(default=None, alias="SOCIALCRM_SECRETS_FILE")
    secrets_name: str | None = Field(default=None, alias="SECRETS_NAME")

    @model_validator(mode="after")
    def _one_source(self) -> SecretsSettings:
        if not (self.secrets_file or self.secrets_name):
            raise ValueError("set SOCIALCRM_SECRETS_FILE (local) or SECRETS_NAME (AWS)")
        return self

    def secrets_source(self) -> SecretsSource:
        return SecretsSource(file=self.secrets_file, secret_name=self.secrets_name)


class IngestSettings(SecretsSettings):
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE")
    inbound_queue_url: str = Field(alias="INBOUND_QUEUE_URL")


class _AwsSettings(_Settings):
    region: str | None = Field(default=None, alias="AWS_REGION")
    default_region: str | None = Field(default=None, alias="AWS_DEFAULT_REGION")
    # Set only for the local stack: where the embedded AWS listens (boto3 reads it too).
    endpoint_url: str | None = Field(default=None, alias="AWS_ENDPOINT_URL")

    @property
    def aws_region(self) -> str | None:
        return self.region or self.default_region


class EnrichSettings(_AwsSettings):
    interactions_table: str = Field(alias="INTERACTIONS_TABLE")
    subjects_table: str = Field(alias="SUBJECTS_TABLE")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")
    inbound_queue_url: str = Field(alias="INBOUND_QUEUE_URL")


class ApiSettings(_AwsSettings, SecretsSettings):
    interactions_table: str = Field(alias="INTERACTIONS_TABLE")
    subjects_table: str = Field(alias="SUBJECTS_TABLE")
