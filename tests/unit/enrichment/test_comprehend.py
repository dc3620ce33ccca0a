"""The Comprehend adapter against Comprehend's exact contract (botocore's model, via ``Stubber``).

``Stubber`` answers before botocore's retry loop, so the throttling test answers at the HTTP layer
instead (``before-send``) with botocore's adaptive retry running on a virtual clock: no real waiting.
"""

from __future__ import annotations

import json
import types
from datetime import UTC, datetime

import boto3
import botocore.endpoint
import pytest
from aws_lambda_powertools.utilities.circuit_breaker.base import CircuitBreakerHandler
from botocore.awsrequest import AWSResponse
from botocore.retries import bucket
from botocore.stub import Stubber

from socialcrm.enrichment import comprehend
from socialcrm.enrichment.comprehend import (
    CLIENT_CONFIG,
    AnalysisRejectedError,
    AnalysisUnavailableError,
    ComprehendAnalyser,
    DetectedLanguage,
    ItemError,
    UnsupportedLanguageError,
)
from socialcrm.enrichment.service import enrich
from socialcrm.enrichment.text import MAX_DOCUMENT_BYTES, truncate_utf8
from socialcrm.models import Author, Interaction, Sentiment, interaction_ref, subject_id

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
HINDI = "मेरा ऑर्डर अभी तक नहीं आया, कृपया जल्दी देखिए। "


def scored(index: int, label: str = "POSITIVE") -> dict:
    scores = {"Positive": 0.01, "Negative": 0.01, "Neutral": 0.01, "Mixed": 0.01}
    scores[label.capitalize()] = 0.97
    return {"Index": index, "Sentiment": label, "SentimentScore": scores}


def sentiments(count: int, label: str = "POSITIVE") -> dict:
    return {"ResultList": [scored(i, label) for i in range(count)], "ErrorList": []}


def languages(*codes: str) -> dict:
    return {
        "ResultList": [
            {"Index": i, "Languages": [{"LanguageCode": code, "Score": 0.98}]} for i, code in enumerate(codes)
        ],
        "ErrorList": [],
    }


def item(n: int, text: str, language: str | None = None) -> Interaction:
    return Interaction(
        interaction_id=f"x:{n}",
        interaction_ref=interaction_ref("pepper", f"x:{n}"),
        subject_id=subject_id("pepper", "x", "42"),
        platform="x",
        kind="mention",
        native_id=str(n),
        author=Author(user_id="42"),
        text=text,
        language=language,
        occurred_at=T0,
        received_at=T0,
    )


class NeverSure:
    def identify(self, text: str) -> str | None:
        return None


@pytest.fixture
def client():
    return boto3.client("comprehend", region_name="eu-west-1", config=CLIENT_CONFIG)


@pytest.fixture
def stub(client):
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def sent(client):
    """The operations the client was asked to call, in order."""
    calls: list[str] = []
    client.meta.events.register(
        "before-parameter-build.comprehend", lambda model, **_: calls.append(model.name)
    )
    return calls


def test_sixty_texts_are_sent_in_calls_of_25_and_answered_by_index(client, stub, sent):
    # Given 60 English texts
    texts = [f"text number {n} is here" for n in range(60)]
    for start, size in ((0, 25), (25, 25), (50, 10)):
        stub.add_response(
            "batch_detect_sentiment",
            sentiments(size, "NEGATIVE" if start == 25 else "POSITIVE"),
            {"TextList": texts[start : start + size], "LanguageCode": "en"},
        )
    # When their sentiment is asked
    results = ComprehendAnalyser(client=client).batch_detect_sentiment("en", texts)
    # Then three calls of 25, 25 and 10 were made and every result is at its text's index
    assert sent == ["BatchDetectSentiment"] * 3
    assert [r.label for r in results] == ["POSITIVE"] * 25 + ["NEGATIVE"] * 25 + ["POSITIVE"] * 10


def test_each_sentiment_call_carries_one_language(client, stub, sent):
    # Given a batch mixing English and Hindi messages (hinted)
    batch = [item(1, "Love it, thanks!", "en"), item(2, HINDI, "hi"), item(3, "Terrible, still broken", "en")]
    stub.add_response(
        "batch_detect_sentiment",
        sentiments(2),
        {"TextList": ["Love it, thanks!", "Terrible, still broken"], "LanguageCode": "en"},
    )
    stub.add_response("batch_detect_sentiment", sentiments(1), {"TextList": [HINDI], "LanguageCode": "hi"})
    # When the batch is enriched
    result = enrich(batch, ComprehendAnalyser(client=client), NeverSure())
    # Then one call per language, no language detection (the hints are used), all analysed
    assert sent == ["BatchDetectSentiment", "BatchDetectSentiment"]
    assert [i.sentiment_status for i in result] == ["ANALYSED"] * 3


def test_error_list_entries_fail_only_their_documents(client, stub):
    # Given Comprehend answers documents 0 and 2 and reports errors for 1 and 3
    texts = ["first one here", "second one here", "third one here", "fourth one here"]
    stub.add_response(
        "batch_detect_sentiment",
        {
            "ResultList": [scored(0), scored(2, "NEGATIVE")],
            "ErrorList": [
                {"Index": 1, "ErrorCode": "INTERNAL_SERVER_ERROR", "ErrorMessage": "Internal server error"},
                {"Index": 3, "ErrorCode": "TextSizeLimitExceededException", "ErrorMessage": "too large"},
            ],
        },
        {"TextList": texts, "LanguageCode": "en"},
    )
    # When enriched
    result = enrich(
        [item(n, t, "en") for n, t in enumerate(texts)], ComprehendAnalyser(client=client), NeverSure()
    )
    # Then the transient error waits for a retry, the permanent one fails, the others are analysed
    assert [i.sentiment_status for i in result] == ["ANALYSED", "PENDING", "ANALYSED", "FAILED"]
    assert result[2].sentiment.label == "NEGATIVE"


def test_item_errors_are_returned_at_their_index(client, stub):
    stub.add_response(
        "batch_detect_dominant_language",
        {
            "ResultList": [{"Index": 1, "Languages": [{"LanguageCode": "hi", "Score": 0.99}]}],
            "ErrorList": [{"Index": 0, "ErrorCode": "INTERNAL_SERVER_ERROR", "ErrorMessage": "x"}],
        },
        {"TextList": ["a document of twenty chars", HINDI]},
    )
    results = ComprehendAnalyser(client=client).batch_detect_dominant_language(
        ["a document of twenty chars", HINDI]
    )
    assert results == [ItemError("INTERNAL_SERVER_ERROR", "x"), DetectedLanguage("hi", 0.99)]
    assert results[0].retryable


class VirtualTime:
    """Botocore's retry sleeps and adaptive token bucket on a clock that only moves when asked to wait."""

    def __init__(self) -> None:
        self.now = datetime.now(tz=UTC).timestamp()
        self.waited = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.waited += seconds


@pytest.fixture
def virtual_time(monkeypatch):
    clock = VirtualTime()

    class Condition:
        def __init__(self, lock):
            self._lock = lock

        def __enter__(self):
            return self._lock.__enter__()

        def __exit__(self, *exc):
            return self._lock.__exit__(*exc)

        def wait(self, timeout=None):
            clock.sleep(max(timeout or 0, 0.001))  # a real wait takes some time; a float sum must move

        def notify(self):
            return None

    monkeypatch.setattr(bucket.Clock, "current_time", lambda self: clock.now)
    monkeypatch.setattr(
        bucket, "threading", types.SimpleNamespace(Lock=bucket.threading.Lock, Condition=Condition)
    )
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=clock.sleep))
    return clock


class Raw:
    def __init__(self, payload: dict) -> None:
        self.data = json.dumps(payload).encode()

    def stream(self, **_):
        yield self.data


def test_throttling_is_retried_with_backoff_by_the_adaptive_client(virtual_time):
    # Given the production client config, and Comprehend throttling twice before answering
    client = boto3.client("comprehend", region_name="eu-west-1", config=CLIENT_CONFIG)
    throttled = {"__type": "ThrottlingException", "message": "Rate exceeded"}
    answers = [(400, throttled), (400, throttled), (200, sentiments(1))]
    requests = []

    def http(request, **_):
        requests.append(json.loads(request.body))
        status, payload = answers.pop(0)
        return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.1"}, Raw(payload))

    client.meta.events.register("before-send.comprehend", http)
    # When the adapter asks once
    results = ComprehendAnalyser(client=client).batch_detect_sentiment("en", ["I love it"])
    # Then the client sent the same request three times, backing off between them, and the answer arrived
    assert [r.label for r in results] == ["POSITIVE"]
    assert len(requests) == 3 and all(
        r == {"TextList": ["I love it"], "LanguageCode": "en"} for r in requests
    )
    assert virtual_time.waited > 0


def test_throttling_that_outlasts_the_retries_is_unavailability(virtual_time):
    client = boto3.client("comprehend", region_name="eu-west-1", config=CLIENT_CONFIG)
    throttled = {"__type": "ThrottlingException", "message": "Rate exceeded"}
    attempts = []

    def http(request, **_):
        attempts.append(1)
        return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"}, Raw(throttled))

    client.meta.events.register("before-send.comprehend", http)
    with pytest.raises(AnalysisUnavailableError):
        ComprehendAnalyser(client=client).batch_detect_sentiment("en", ["I love it"])
    # Then the first request and its five retries were sent
    assert len(attempts) == 6


def test_a_long_hindi_text_is_sent_cut_to_5000_bytes_on_a_character_boundary(client, stub):
    # Given a Hindi text of about 18,000 bytes
    text = HINDI * 150
    cut = truncate_utf8(text)
    assert len(text.encode()) > 3 * MAX_DOCUMENT_BYTES
    assert len(cut.encode()) <= MAX_DOCUMENT_BYTES and text.startswith(cut)
    cut.encode("utf-8").decode("utf-8", errors="strict")
    # Then the request's Text is exactly that prefix (Stubber checks the request)
    stub.add_response("batch_detect_sentiment", sentiments(1), {"TextList": [cut], "LanguageCode": "hi"})
    result = enrich([item(1, text, "hi")], ComprehendAnalyser(client=client), NeverSure())
    assert result[0].sentiment_status == "ANALYSED"
    # And the adapter cuts too, whoever calls it
    stub.add_response("batch_detect_sentiment", sentiments(1), {"TextList": [cut], "LanguageCode": "hi"})
    ComprehendAnalyser(client=client).batch_detect_sentiment("hi", [text])


def test_identical_texts_are_sent_once(client, stub, sent):
    stub.add_response(
        "batch_detect_sentiment", sentiments(1), {"TextList": ["Where is my refund??"], "LanguageCode": "en"}
    )
    result = enrich(
        [item(n, "Where is my refund??", "en") for n in range(4)],
        ComprehendAnalyser(client=client),
        NeverSure(),
    )
    assert sent == ["BatchDetectSentiment"]
    assert [i.sentiment.label for i in result] == ["POSITIVE"] * 4


def test_empty_texts_are_not_sent(client, stub, sent):
    result = enrich([item(1, ""), item(2, "", "en")], ComprehendAnalyser(client=client), NeverSure())
    assert sent == []
    assert [i.sentiment_status for i in result] == ["NO_TEXT", "NO_TEXT"]


def test_unknown_languages_are_detected_in_one_call_then_analysed_per_language(client, stub, sent):
    # Given three texts the identifier is unsure of (no hints): English, Hindi and Tamil
    english, tamil = "a long enough English message", "என் ஆர்டர் இன்னும் வரவில்லை"
    stub.add_response(
        "batch_detect_dominant_language", languages("en", "hi", "ta"), {"TextList": [english, HINDI, tamil]}
    )
    stub.add_response("batch_detect_sentiment", sentiments(1), {"TextList": [english], "LanguageCode": "en"})
    stub.add_response("batch_detect_sentiment", sentiments(1), {"TextList": [HINDI], "LanguageCode": "hi"})
    # When enriched
    result = enrich(
        [item(1, english), item(2, HINDI), item(3, tamil)], ComprehendAnalyser(client=client), NeverSure()
    )
    # Then Tamil, which Comprehend cannot analyse, is not sent for sentiment
    assert sent == ["BatchDetectDominantLanguage", "BatchDetectSentiment", "BatchDetectSentiment"]
    assert [(i.language, i.sentiment_status) for i in result] == [
        ("en", "ANALYSED"),
        ("hi", "ANALYSED"),
        ("ta", "UNSUPPORTED_LANGUAGE"),
    ]


def test_an_unsupported_language_code_is_refused_without_counting_against_comprehend(client, stub):
    analyser = ComprehendAnalyser(client=client)
    for _ in range(3):
        stub.add_client_error("batch_detect_sentiment", "UnsupportedLanguageException", "Unsupported", 400)
        with pytest.raises(UnsupportedLanguageError):
            analyser.batch_detect_sentiment("sw", ["habari, agizo langu halijafika"])
    # Then the circuit is still closed: a fourth call reaches Comprehend
    stub.add_response("batch_detect_sentiment", sentiments(1))
    assert len(analyser.batch_detect_sentiment("en", ["fine now"])) == 1


@pytest.mark.parametrize(
    "code", ["BatchSizeLimitExceededException", "InvalidRequestException", "TextSizeLimitExceededException"]
)
def test_a_refused_request_is_rejected_not_unavailable(client, stub, code):
    stub.add_client_error("batch_detect_sentiment", code, "no", 400)
    with pytest.raises(AnalysisRejectedError):
        ComprehendAnalyser(client=client).batch_detect_sentiment("en", ["text"])


def test_a_failure_in_a_later_chunk_keeps_the_earlier_results(client, stub):
    texts = [f"text number {n}" for n in range(30)]
    stub.add_response("batch_detect_sentiment", sentiments(25))
    stub.add_client_error("batch_detect_sentiment", "InternalServerException", "boom", 500)
    with pytest.raises(AnalysisUnavailableError) as raised:
        ComprehendAnalyser(client=client).batch_detect_sentiment("en", texts)
    assert len(raised.value.partial) == 25 and all(isinstance(r, Sentiment) for r in raised.value.partial)


def test_when_comprehend_stays_down_the_circuit_opens_and_nothing_more_is_sent(
    client, stub, sent, monkeypatch
):
    analyser = ComprehendAnalyser(client=client)
    batch = [item(1, "first message of the batch", "en"), item(2, "second message of the batch", "es")]
    # Given Comprehend fails twice (the failure threshold), each time after the client's retries
    for _ in range(2):
        stub.add_client_error("batch_detect_sentiment", "InternalServerException", "boom", 500)
        result = enrich(batch, analyser, NeverSure())
        # Then each batch stops at the first failure and stores everything PENDING
        assert [i.sentiment_status for i in result] == ["PENDING", "PENDING"]
    assert sent == ["BatchDetectSentiment", "BatchDetectSentiment"]
    # When the next batch comes, the circuit is open
    result = enrich([*batch, item(3, "a third message, unknown language")], analyser, NeverSure())
    # Then no request is sent at all and every interaction is PENDING, none dropped
    assert sent == ["BatchDetectSentiment", "BatchDetectSentiment"]
    assert [(i.language, i.sentiment_status) for i in result] == [
        ("en", "PENDING"),
        ("es", "PENDING"),
        (None, "PENDING"),
    ]
    # When the recovery timeout has passed and Comprehend is back
    later = int(datetime.now(tz=UTC).timestamp()) + analyser.circuit.recovery_timeout + 1
    monkeypatch.setattr(CircuitBreakerHandler, "_now", staticmethod(lambda: later))
    stub.add_response(
        "batch_detect_sentiment",
        sentiments(1),
        {"TextList": ["first message of the batch"], "LanguageCode": "en"},
    )
    stub.add_response(
        "batch_detect_sentiment",
        sentiments(1),
        {"TextList": ["second message of the batch"], "LanguageCode": "es"},
    )
    # Then the pending interactions are enriched again
    result = enrich(batch, analyser, NeverSure())
    assert [i.sentiment_status for i in result] == ["ANALYSED", "ANALYSED"]


def test_each_analyser_has_its_own_circuit(client, stub):
    # Given one analyser whose circuit is open
    down = ComprehendAnalyser(client=client)
    for _ in range(2):
        stub.add_client_error("batch_detect_sentiment", "ServiceUnavailableException", "down", 503)
        with pytest.raises(AnalysisUnavailableError):
            down.batch_detect_sentiment("en", ["x"])
    # Then another analyser still calls Comprehend
    stub.add_response("batch_detect_sentiment", sentiments(1))
    assert len(ComprehendAnalyser(client=client).batch_detect_sentiment("en", ["x"])) == 1


def test_the_client_is_built_lazily_with_adaptive_retries_and_no_region(monkeypatch):
    built = []
    monkeypatch.setattr(
        comprehend.boto3, "client", lambda *args, **kwargs: built.append((args, kwargs)) or object()
    )
    comprehend.comprehend_client.cache_clear()
    try:
        # Given an analyser without a client, Then none is built until it is needed
        analyser = ComprehendAnalyser()
        assert built == [] and analyser.batch_detect_sentiment("en", []) == []
        assert built == []
        # When it is needed, Then it is built once, with adaptive retries and the environment's region
        analyser._client
        analyser._client
        assert len(built) == 1
        (service,), options = built[0]
        assert service == "comprehend" and "region_name" not in options and options["endpoint_url"] is None
        # (botocore reads max_attempts 5 as five retries: six attempts in all)
        assert options["config"].retries == {"mode": "adaptive", "total_max_attempts": 6}
    finally:
        comprehend.comprehend_client.cache_clear()
