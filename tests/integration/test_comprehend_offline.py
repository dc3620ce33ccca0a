"""The offline Comprehend over HTTP, called by a real boto3 client as the local stack calls it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from socialcrm.enrichment.comprehend import CLIENT_CONFIG, ComprehendAnalyser, UnsupportedLanguageError
from socialcrm.enrichment.language import LanguageIdentifier
from socialcrm.enrichment.service import enrich
from socialcrm.local.comprehend_offline import serve
from socialcrm.models import Author, Interaction, interaction_ref, subject_id

ROOT = Path(__file__).resolve().parents[2]
HINDI = "मेरा ऑर्डर अभी तक नहीं आया, दो हफ्ते हो गए हैं। कृपया जल्दी देखिए।"


def comprehend_at(endpoint: str):
    return boto3.client(
        "comprehend",
        endpoint_url=endpoint,
        region_name="eu-west-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=CLIENT_CONFIG,
    )


@pytest.fixture(scope="module")
def endpoint():
    server = serve("127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(endpoint):
    return comprehend_at(endpoint)


def test_english_sentiment_is_positive_or_negative_as_written(client):
    # When a batch of English messages is analysed
    response = client.batch_detect_sentiment(
        TextList=[
            "Absolutely love the new headphones, best purchase this year!",
            "Worst customer service I've ever dealt with. Still no refund.",
            "How do I change the delivery address on my order?",
            "I love the product but the delivery was terrible.",
        ],
        LanguageCode="en",
    )
    # Then each gets Comprehend's label, the highest of its four scores, which add up to 1
    results = sorted(response["ResultList"], key=lambda r: r["Index"])
    assert [r["Sentiment"] for r in results] == ["POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"]
    for result in results:
        scores = result["SentimentScore"]
        assert max(scores, key=scores.get).upper() == result["Sentiment"]
        assert sum(scores.values()) == pytest.approx(1.0, abs=1e-4)
    assert response["ErrorList"] == []


def test_single_document_operations_answer_too(client):
    assert (
        client.detect_sentiment(Text="Thanks, that fixed it. Great job!", LanguageCode="en")["Sentiment"]
        == "POSITIVE"
    )
    languages = client.detect_dominant_language(Text="Meine Bestellung ist immer noch nicht angekommen.")[
        "Languages"
    ]
    assert languages[0]["LanguageCode"] == "de" and languages[0]["Score"] > 0.9


def test_hindi_is_detected_as_hi(client):
    response = client.batch_detect_dominant_language(
        TextList=[HINDI, "My order still hasn't arrived, please check."]
    )
    best = {r["Index"]: r["Languages"][0]["LanguageCode"] for r in response["ResultList"]}
    assert best == {0: "hi", 1: "en"}


def test_a_language_vader_cannot_read_is_neutral_and_says_so(client):
    # Given Hindi, which Comprehend analyses but VADER cannot: the documented answer is NEUTRAL, neutral 1.0
    result = client.detect_sentiment(Text="आपकी सर्विस बहुत खराब है", LanguageCode="hi")
    assert result["Sentiment"] == "NEUTRAL"
    assert result["SentimentScore"] == {"Positive": 0.0, "Negative": 0.0, "Neutral": 1.0, "Mixed": 0.0}


def test_a_batch_over_25_documents_is_refused(client):
    with pytest.raises(ClientError) as refused:
        client.batch_detect_sentiment(TextList=["a message"] * 26, LanguageCode="en")
    assert refused.value.response["Error"]["Code"] == "BatchSizeLimitExceededException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_document_over_5000_bytes_fails_alone(client):
    # Given 1,700 Devanagari characters (5,100 bytes) between two short documents
    too_large = "न" * 1700
    response = client.batch_detect_sentiment(TextList=["good", too_large, "bad"], LanguageCode="hi")
    # Then only it is in ErrorList, by index, and the others are answered
    assert [r["Index"] for r in response["ResultList"]] == [0, 2]
    assert [(e["Index"], e["ErrorCode"]) for e in response["ErrorList"]] == [
        (1, "TextSizeLimitExceededException")
    ]
    # And a single DetectSentiment of it is refused
    with pytest.raises(ClientError) as refused:
        client.detect_sentiment(Text=too_large, LanguageCode="hi")
    assert refused.value.response["Error"]["Code"] == "TextSizeLimitExceededException"


def test_an_unsupported_language_code_is_refused(client):
    with pytest.raises(ClientError) as refused:
        client.batch_detect_sentiment(TextList=["என் ஆர்டர் இன்னும் வரவில்லை"], LanguageCode="ta")
    assert refused.value.response["Error"]["Code"] == "UnsupportedLanguageException"
    # And the adapter names it for what it is
    with pytest.raises(UnsupportedLanguageError):
        ComprehendAnalyser(client=client).batch_detect_sentiment("ta", ["என் ஆர்டர் இன்னும் வரவில்லை"])


def test_the_production_enrichment_runs_against_it(client):
    # Given a batch like the local stack's: unhinted English, Hindi and Tamil, an empty text, a long Hindi one
    at = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    texts = [
        "Worst customer service I've ever dealt with.",
        HINDI,
        "என் ஆர்டர் இன்னும் வரவில்லை, தயவுசெய்து சரிபார்க்கவும்.",
        "",
        HINDI * 60,
        "ok??",
    ]
    batch = [
        Interaction(
            interaction_id=f"x:{n}",
            interaction_ref=interaction_ref("pepper", f"x:{n}"),
            subject_id=subject_id("pepper", "x", "1"),
            platform="x",
            kind="mention",
            native_id=str(n),
            author=Author(user_id="1"),
            text=text,
            occurred_at=at,
            received_at=at,
        )
        for n, text in enumerate(texts)
    ]
    # When enriched by the production adapter over HTTP
    result = enrich(batch, ComprehendAnalyser(client=client), LanguageIdentifier())
    # Then
    assert [(i.language, i.sentiment_status) for i in result] == [
        ("en", "ANALYSED"),
        ("hi", "ANALYSED"),
        ("ta", "UNSUPPORTED_LANGUAGE"),
        (None, "NO_TEXT"),
        ("hi", "ANALYSED"),
        ("und", "UNDETERMINED_LANGUAGE"),
    ]
    assert result[0].sentiment.label == "NEGATIVE"


def test_python_m_serves_on_the_given_port():
    # Given a free loopback port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # When the module is run as the local stack runs it
    process = subprocess.Popen(
        [sys.executable, "-m", "socialcrm.local.comprehend_offline", "--port", str(port)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "functions"), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "the offline analyser did not start"
                time.sleep(0.1)
        # Then boto3 gets answers from it
        client = comprehend_at(f"http://127.0.0.1:{port}")
        assert (
            client.detect_sentiment(Text="I love it, thank you!", LanguageCode="en")["Sentiment"]
            == "POSITIVE"
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
