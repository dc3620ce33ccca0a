"""An offline Amazon Comprehend for the local stack: the four detect operations over Comprehend's wire protocol.

moto's Comprehend answers only ``DetectSentiment`` (always NEUTRAL) and lacks the batch and language
APIs, so the local stack serves this instead at Comprehend's endpoint: boto3 pointed at it with
``endpoint_url`` (or ``AWS_ENDPOINT_URL_COMPREHEND``) and any credentials runs the production adapter
unchanged. It speaks the JSON 1.1 protocol (``POST /``, ``X-Amz-Target: Comprehend_20171127.<Operation>``,
``Content-Type: application/x-amz-json-1.1``) for ``BatchDetectSentiment``, ``BatchDetectDominantLanguage``,
``DetectSentiment`` and ``DetectDominantLanguage``.

What it answers:

* Language: py3langid's ranking (the same model and tag mapping as ``socialcrm.enrichment.language``),
  up to three languages of score 0.05 or more, best first; Chinese is always ``zh``; a text with
  nothing to read (links and handles only) gets no language.
* Sentiment in English: VADER (``vaderSentiment``), made into Comprehend's four labels. MIXED when both
  VADER's positive and negative proportions are 0.15 or more; else POSITIVE when the compound score is
  0.05 or more, NEGATIVE when it is -0.05 or less, NEUTRAL otherwise. The label's score is
  0.5 + |compound| / 2 (POSITIVE, NEGATIVE), 1 - |compound| (NEUTRAL) or 0.5 + min/max of the two
  proportions / 2 (MIXED), so the label is always the highest score; the rest is shared among the
  other three in proportion to VADER's positive, negative, neutral and min(positive, negative).
* Sentiment in the other languages Comprehend supports (es fr de it pt ar hi ja ko zh zh-TW): VADER
  cannot read them, so the answer is always NEUTRAL with scores neutral 1.0 and 0.0 for the others.
  Deterministic and honest: it claims no sentiment it did not find. Local results for those languages
  say nothing about what Comprehend would answer.

The contract is Comprehend's, so the production code meets the same refusals here: more than 25
documents → ``BatchSizeLimitExceededException``; a document over 5,000 UTF-8 bytes → its own
``ErrorList`` entry (``TextSizeLimitExceededException``) in a batch, or the error for ``DetectSentiment``
(``DetectDominantLanguage`` accepts 100 KB); a ``LanguageCode`` outside the 12 supported →
``UnsupportedLanguageException``; a missing or empty field → ``InvalidRequestException``.

Run it with ``python -m socialcrm.local.comprehend_offline --port 4567``; in code, ``serve(host, port)``
starts it on a background thread and returns the server (``port=0`` picks a free port).
"""

from __future__ import annotations

import argparse
import json
import threading
import uuid
from collections.abc import Callable
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from socialcrm.enrichment.language import SENTIMENT_LANGUAGES, LanguageIdentifier

TARGET_PREFIX = "Comprehend_20171127."
CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_BATCH_DOCUMENTS = 25
MAX_DOCUMENT_BYTES = 5000
MAX_LANGUAGE_DOCUMENT_BYTES = 100_000  # DetectDominantLanguage
MIXED_PROPORTION = 0.15
POLAR_COMPOUND = 0.05
MIN_LANGUAGE_SCORE = 0.05
MAX_LANGUAGES = 3


class ComprehendError(Exception):
    """An error answer: Comprehend's exception name, its message, and the HTTP status."""

    def __init__(self, error_type: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.error_type, self.message, self.status = error_type, message, status


@lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    return LanguageIdentifier()


def sentiment(text: str, language: str) -> dict[str, Any]:
    """``{"Sentiment": label, "SentimentScore": {...}}`` for one document (see the module docstring)."""
    if language != "en":
        return _answer("NEUTRAL", {"Positive": 0.0, "Negative": 0.0, "Neutral": 1.0, "Mixed": 0.0})
    vader = _vader().polarity_scores(text)
    pos, neg, neu, compound = vader["pos"], vader["neg"], vader["neu"], vader["compound"]
    weights = {"Positive": pos, "Negative": neg, "Neutral": neu, "Mixed": min(pos, neg)}
    if min(pos, neg) >= MIXED_PROPORTION:
        label, confidence = "Mixed", 0.5 + min(pos, neg) / max(pos, neg) / 2
    elif compound >= POLAR_COMPOUND:
        label, confidence = "Positive", 0.5 + compound / 2
    elif compound <= -POLAR_COMPOUND:
        label, confidence = "Negative", 0.5 - compound / 2
    else:
        label, confidence = "Neutral", 1.0 - abs(compound)
    others = {name: weight for name, weight in weights.items() if name != label}
    total = sum(others.values())
    rest = 1.0 - confidence
    scores = {
        name: (rest * weight / total if total else rest / len(others)) for name, weight in others.items()
    }
    scores[label] = confidence
    return _answer(label.upper(), scores)


def _answer(label: str, scores: dict[str, float]) -> dict[str, Any]:
    return {
        "Sentiment": label,
        "SentimentScore": {
            name: round(scores[name], 6) for name in ("Positive", "Negative", "Neutral", "Mixed")
        },
    }


def dominant_languages(text: str) -> list[dict[str, Any]]:
    """Comprehend's ``Languages`` for one document: RFC 5646 codes with scores, best first."""
    ranked = [(tag, score) for tag, score in _identifier().rank(text) if tag != "zxx"]
    chosen = [pair for pair in ranked[:MAX_LANGUAGES] if pair[1] >= MIN_LANGUAGE_SCORE] or ranked[:1]
    return [{"LanguageCode": tag, "Score": round(score, 6)} for tag, score in chosen]


def _text(body: dict[str, Any]) -> str:
    text = body.get("Text")
    if not isinstance(text, str) or not text:
        raise ComprehendError("InvalidRequestException", "Text must be a non-empty string")
    return text


def _text_list(body: dict[str, Any]) -> list[str]:
    texts = body.get("TextList")
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
        raise ComprehendError("InvalidRequestException", "TextList must hold 1 to 25 non-empty strings")
    if len(texts) > MAX_BATCH_DOCUMENTS:
        raise ComprehendError(
            "BatchSizeLimitExceededException",
            f"The number of documents in the request exceeds the limit of {MAX_BATCH_DOCUMENTS}.",
        )
    return texts


def _language_code(body: dict[str, Any]) -> str:
    code = body.get("LanguageCode")
    if not isinstance(code, str) or not code:
        raise ComprehendError("InvalidRequestException", "LanguageCode is required")
    if code not in SENTIMENT_LANGUAGES:
        raise ComprehendError("UnsupportedLanguageException", f"Unsupported language code: {code}")
    return code


def _too_large(text: str, limit: int) -> str | None:
    size = len(text.encode("utf-8"))
    if size <= limit:
        return None
    return f"Input text size exceeds limit. Max length of request text allowed is {limit} bytes while in this request the text size is {size} bytes"


def _batch(texts: list[str], analyse: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    results, errors = [], []
    for index, text in enumerate(texts):
        problem = _too_large(text, MAX_DOCUMENT_BYTES)
        if problem:
            errors.append(
                {"Index": index, "ErrorCode": "TextSizeLimitExceededException", "ErrorMessage": problem}
            )
        else:
            results.append({"Index": index, **analyse(text)})
    return {"ResultList": results, "ErrorList": errors}


def batch_detect_sentiment(body: dict[str, Any]) -> dict[str, Any]:
    texts, language = _text_list(body), _language_code(body)
    return _batch(texts, lambda text: sentiment(text, language))


def batch_detect_dominant_language(body: dict[str, Any]) -> dict[str, Any]:
    return _batch(_text_list(body), lambda text: {"Languages": dominant_languages(text)})


def detect_sentiment(body: dict[str, Any]) -> dict[str, Any]:
    text, language = _text(body), _language_code(body)
    problem = _too_large(text, MAX_DOCUMENT_BYTES)
    if problem:
        raise ComprehendError("TextSizeLimitExceededException", problem)
    return sentiment(text, language)


def detect_dominant_language(body: dict[str, Any]) -> dict[str, Any]:
    text = _text(body)
    problem = _too_large(text, MAX_LANGUAGE_DOCUMENT_BYTES)
    if problem:
        raise ComprehendError("TextSizeLimitExceededException", problem)
    return {"Languages": dominant_languages(text)}


OPERATIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "BatchDetectSentiment": batch_detect_sentiment,
    "BatchDetectDominantLanguage": batch_detect_dominant_language,
    "DetectSentiment": detect_sentiment,
    "DetectDominantLanguage": detect_dominant_language,
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as boto3's connection pool expects
    server_version = "ComprehendOffline"
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart (delayed ACK)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            target = self.headers.get("X-Amz-Target", "")
            operation = (
                OPERATIONS.get(target.removeprefix(TARGET_PREFIX))
                if target.startswith(TARGET_PREFIX)
                else None
            )
            if operation is None:
                raise ComprehendError("UnknownOperationException", f"Unknown operation {target!r}")
            try:
                body = json.loads(raw or b"{}")
            except ValueError as exc:
                raise ComprehendError("SerializationException", "The body is not JSON") from exc
            if not isinstance(body, dict):
                raise ComprehendError("SerializationException", "The body is not a JSON object")
            self._reply(200, operation(body))
        except ComprehendError as exc:
            self._reply(exc.status, {"__type": exc.error_type, "message": exc.message})
        except Exception as exc:  # an offline-analyser bug: answer as Comprehend would, a 500
            self._reply(500, {"__type": "InternalServerException", "message": type(exc).__name__})

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # request lines are noise (never the text)
        return


def serve(host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Start the offline analyser on a daemon thread; stop it with ``server.shutdown()``.

    >>> server = serve()
    >>> server.server_address[1] > 0
    True
    >>> server.shutdown(); server.server_close()
    """
    _vader(), _identifier().rank("warm up the model")  # load once, before the first request waits on it
    server = ThreadingHTTPServer((host, port), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="comprehend-offline", daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="An offline Amazon Comprehend (VADER and py3langid).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4567)
    args = parser.parse_args(argv)
    server = serve(args.host, args.port)
    port = server.server_address[1]
    print(f"offline Comprehend on http://{args.host}:{port} (AWS_ENDPOINT_URL_COMPREHEND)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
