"""The Powertools tracer (X-Ray SDK) for the asynchronous functions and the CRM API."""

from __future__ import annotations

from aws_lambda_powertools import Tracer

tracer = Tracer()
