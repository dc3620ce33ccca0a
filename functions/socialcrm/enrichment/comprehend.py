"""The Comprehend adapter: batch language and sentiment calls, 25 documents each, behind a circuit breaker.

Contract (botocore's ``comprehend`` model and the developer guide): at most 25 documents a batch call,
each at most 5,000 UTF-8 bytes, one ``LanguageCode`` per sentiment call; a document that fails comes
back in ``ErrorList`` with its index while the others succeed.

Failures are sorted into two kinds:

* ``AnalysisUnavailableError`` — Comprehend cannot answer now (throttled after the client's adaptive
  retries, a 5xx, no connection, no permission, or the circuit is open). The caller keeps what was
  analysed (``error.partial``) and marks the rest PENDING, to be enriched again later. Only these
  count towards opening the circuit.
* ``AnalysisRejectedError`` — the request itself was refused (too many or too large documents, an
  invalid request; ``UnsupportedLanguageError`` for a language Comprehend does not analyse). Retrying
  the same request cannot help, and it says nothing about Comprehend's health.

The circuit breaker is Powertools' with in-memory state: it lives as long as the Lambda execution
environment, so once Comprehend has failed ``failure_threshold`` times the following batches of that
environment stop waiting on it (every call fails fast, no request is sent) until ``recovery_timeout``
has passed and a probe call succeeds.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.circuit_breaker import (
    CircuitBreakerConfig,
    CircuitBreakerOpenError,
    CircuitState,
    CircuitTransition,
    circuit_breaker,
)
from aws_lambda_powertools.utilities.circuit_breaker.persistence import (
    CircuitBreakerPersistenceLayer,
    CircuitStateRecord,
)
from aws_lambda_powertools.utilities.circuit_breaker.persistence.base import (
    CircuitBreakerExistingLockError,
)
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from socialcrm.enrichment.text import truncate_utf8
from socialcrm.errors import SocialCrmError
from socialcrm.models import Sentiment, SentimentScores
from socialcrm.observability import logger

MAX_BATCH_DOCUMENTS = 25
# Adaptive retries: exponential backoff and a client-side rate limiter that learns Comprehend's rate.
# botocore reads max_attempts as retries (six attempts in all). A Comprehend that does not answer costs
# a batch at most about 6 x 5 s before the call fails (and the batch stops calling), inside the enrich
# function's 60 s; a batch call of 25 short documents normally answers in well under a second.
CLIENT_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 5},
    connect_timeout=2,
    read_timeout=5,
)
# Whole-request errors that say the request was wrong, not that Comprehend is unwell.
_REJECTED = frozenset(
    {
        "BatchSizeLimitExceededException",
        "TextSizeLimitExceededException",
        "InvalidRequestException",
        "ValidationException",
        "SerializationException",
    }
)
_UNSUPPORTED_LANGUAGE = "UnsupportedLanguageException"
_circuit_numbers = itertools.count(1)


class AnalysisError(SocialCrmError):
    """Base of the errors of language and sentiment analysis."""


class AnalysisUnavailableError(AnalysisError):
    """Comprehend cannot answer now; ``partial`` holds the per-index results obtained before it failed."""

    status = 503
    code = "analysis_unavailable"

    def __init__(self, message: str, partial: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.partial = list(partial)


class AnalysisRejectedError(AnalysisError):
    """Comprehend refused the request itself; sending it again would be refused again."""

    code = "analysis_rejected"


class UnsupportedLanguageError(AnalysisRejectedError):
    """The ``LanguageCode`` is not one Comprehend analyses sentiment in."""

    code = "unsupported_language"


@dataclass(frozen=True)
class DetectedLanguage:
    """Comprehend's dominant language of one document (RFC 5646 code) and its confidence."""

    code: str
    score: float


@dataclass(frozen=True)
class ItemError:
    """One document's entry in ``ErrorList``: the others of its call were analysed."""

    code: str
    message: str = ""

    @property
    def _normalised(self) -> str:
        # Tolerant of both spellings seen for item codes: "TEXT_SIZE_LIMIT_EXCEEDED" and
        # "TextSizeLimitExceededException" (the API reference does not list the values).
        letters = "".join(ch for ch in self.code.upper() if ch.isalnum())
        return letters.removesuffix("EXCEPTION")

    @property
    def unsupported_language(self) -> bool:
        return self._normalised.startswith("UNSUPPORTEDLANGUAGE")

    @property
    def retryable(self) -> bool:
        """Transient on Comprehend's side (internal error, throttling): analyse again later."""
        return self._normalised in {
            "INTERNALSERVER",
            "INTERNALSERVERERROR",
            "INTERNALFAILURE",
            "SERVICEUNAVAILABLE",
            "THROTTLING",
            "TOOMANYREQUESTS",
            "UNAVAILABLE",
            "MISSINGFROMRESPONSE",
        }


LanguageResult = DetectedLanguage | ItemError
SentimentResult = Sentiment | ItemError


@lru_cache(maxsize=4)
def comprehend_client(endpoint_url: str | None = None) -> Any:
    """The boto3 Comprehend client (region and credentials from the environment), built on first use.

    Adaptive retry mode retries throttling with exponential backoff and slows the client down to the
    rate Comprehend accepts. The local stack points it at the offline analyser with ``endpoint_url``
    (or ``AWS_ENDPOINT_URL_COMPREHEND``, which boto3 reads itself).
    """
    return boto3.client("comprehend", endpoint_url=endpoint_url, config=CLIENT_CONFIG)


def circuit_config(
    failure_threshold: int = 2, recovery_timeout: int = 60, success_threshold: int = 1
) -> CircuitBreakerConfig:
    """The breaker's tunables: only ``AnalysisUnavailableError`` counts as a failure.

    Two calls that failed after all their retries open the circuit for a minute; one successful probe
    closes it again.
    """
    return CircuitBreakerConfig(
        failure_threshold=failure_threshold,
        recovery_timeout=recovery_timeout,
        success_threshold=success_threshold,
        handled_exceptions=AnalysisUnavailableError,
        local_cache_max_age=0,  # the state is in memory already: no read-through cache needed
    )


class InMemoryCircuitState(CircuitBreakerPersistenceLayer):
    """Circuit state in this process's memory: one Lambda execution environment's view of Comprehend.

    Powertools ships a DynamoDB store (shared by every environment); a read and a write per call would
    cost more than the breaker saves here, and each environment learning on its own is enough.
    """

    def __init__(self) -> None:
        super().__init__()
        self._records: dict[str, CircuitStateRecord] = {}
        self._records_lock = threading.Lock()

    def _get_record(self, name: str) -> CircuitStateRecord | None:
        with self._records_lock:
            record = self._records.get(name)
            return replace(record) if record else None

    def _put_record(
        self, record: CircuitStateRecord, condition: str | None = None, expected_opened_at: int | None = None
    ) -> None:
        with self._records_lock:
            if condition == "half_open" and not self._may_probe(record.name, expected_opened_at):
                raise CircuitBreakerExistingLockError
            self._records[record.name] = replace(record)

    def _update_record(self, record: CircuitStateRecord) -> None:
        with self._records_lock:
            self._records[record.name] = replace(record)

    def _may_probe(self, name: str, expected_opened_at: int | None) -> bool:
        """The DynamoDB store's election condition: OPEN with no prober, or an expired probe lease."""
        current = self._records.get(name)
        if current is None:
            return False
        if current.state == CircuitState.OPEN and current.half_open_owner is None:
            return expected_opened_at is None or current.opened_at == expected_opened_at
        lease = current.probe_lease_expiry
        return current.state == CircuitState.HALF_OPEN and lease is not None and lease <= _now()


def _now() -> int:
    return int(datetime.now(tz=UTC).timestamp())


@dataclass
class ComprehendAnalyser:
    """Batch language detection and sentiment analysis on Amazon Comprehend.

    ``client`` is an injected boto3 Comprehend client (tests, the local stack); without one the
    analyser uses :func:`comprehend_client` on first use, never at import. Each analyser has its own
    circuit (Powertools counts failures per circuit name, so the name is unique per analyser).
    """

    client: Any | None = None
    endpoint_url: str | None = None
    circuit: CircuitBreakerConfig = field(default_factory=circuit_config)
    circuit_name: str = field(default_factory=lambda: f"comprehend-{next(_circuit_numbers)}")
    _guarded: Callable[..., dict[str, Any]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._guarded = circuit_breaker(
            name=self.circuit_name,
            persistence_store=InMemoryCircuitState(),
            config=self.circuit,
            on_transition=_log_transition,
        )(self._invoke)

    @property
    def _client(self) -> Any:
        return self.client if self.client is not None else comprehend_client(self.endpoint_url)

    def batch_detect_dominant_language(self, texts: Sequence[str]) -> list[LanguageResult]:
        """The dominant language of each text, by index, in calls of 25.

        Raises ``AnalysisUnavailableError`` (with the results obtained so far in ``partial``) or
        ``AnalysisRejectedError``.
        """
        return self._batched("batch_detect_dominant_language", texts, {}, _language_of)

    def batch_detect_sentiment(self, language: str, texts: Sequence[str]) -> list[SentimentResult]:
        """The sentiment of each text (all in ``language``, a Comprehend ``LanguageCode``), by index."""
        return self._batched("batch_detect_sentiment", texts, {"LanguageCode": language}, _sentiment_of)

    def _batched(
        self,
        operation: str,
        texts: Sequence[str],
        params: dict[str, Any],
        parse: Callable[[dict[str, Any]], Any],
    ) -> list[Any]:
        results: list[Any] = []
        for start in range(0, len(texts), MAX_BATCH_DOCUMENTS):
            chunk = [truncate_utf8(text) for text in texts[start : start + MAX_BATCH_DOCUMENTS]]
            try:
                response = self._call(operation, TextList=chunk, **params)
            except AnalysisUnavailableError as exc:
                raise AnalysisUnavailableError(exc.message, partial=results) from exc
            results += _by_index(response, len(chunk), parse)
        return results

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            return self._guarded(operation, params)
        except CircuitBreakerOpenError as exc:
            raise AnalysisUnavailableError("Comprehend's circuit is open") from exc

    def _invoke(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self._client, operation)(**params)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == _UNSUPPORTED_LANGUAGE:
                raise UnsupportedLanguageError(f"Comprehend {operation}: {code}") from exc
            if code in _REJECTED:
                raise AnalysisRejectedError(f"Comprehend {operation}: {code}") from exc
            raise AnalysisUnavailableError(f"Comprehend {operation}: {code}") from exc
        except ParamValidationError as exc:
            raise AnalysisRejectedError(f"Comprehend {operation}: invalid parameters") from exc
        except BotoCoreError as exc:  # no connection, timeouts, no credentials
            raise AnalysisUnavailableError(f"Comprehend {operation}: {type(exc).__name__}") from exc
        return response


def _by_index(response: dict[str, Any], size: int, parse: Callable[[dict[str, Any]], Any]) -> list[Any]:
    """Results and errors back in input order; an index Comprehend left out is a transient error."""
    ordered: list[Any] = [ItemError("MISSING_FROM_RESPONSE")] * size
    for error in response.get("ErrorList", []):
        ordered[error["Index"]] = ItemError(error.get("ErrorCode", ""), error.get("ErrorMessage", ""))
    for result in response.get("ResultList", []):
        ordered[result["Index"]] = parse(result)
    return ordered


def _sentiment_of(result: dict[str, Any]) -> Sentiment:
    scores = result.get("SentimentScore", {})
    return Sentiment(
        label=result["Sentiment"],
        scores=SentimentScores(
            positive=scores.get("Positive", 0.0),
            negative=scores.get("Negative", 0.0),
            neutral=scores.get("Neutral", 0.0),
            mixed=scores.get("Mixed", 0.0),
        ),
    )


def _language_of(result: dict[str, Any]) -> LanguageResult:
    languages = result.get("Languages") or []
    if not languages:  # nothing to read in the document: no language, rather than an error
        return DetectedLanguage(code="und", score=0.0)
    best = max(languages, key=lambda language: language.get("Score", 0.0))
    return DetectedLanguage(code=best["LanguageCode"], score=float(best.get("Score", 0.0)))


def _log_transition(transition: CircuitTransition) -> None:
    logger.warning(
        "comprehend circuit",
        circuit=transition.circuit_name,
        from_state=str(transition.from_state),
        to_state=str(transition.to_state),
    )
