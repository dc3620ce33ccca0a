"""The normalised Interaction record and its parts (``schemas/interaction.schema.json``).

One model serves every stage: the ingest function fills what the platform said, the enrich function
adds language and sentiment, routing adds ``routing``. ``schemas/interaction.schema.json`` is
generated from these models (``python -m socialcrm.schemas``) and a test fails when it drifts.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

Platform = Literal[
    "facebook", "instagram", "messenger", "whatsapp", "x", "linkedin", "tiktok", "youtube", "generic"
]
Kind = Literal["comment", "mention", "direct_message", "reply", "review", "post"]
SentimentLabel = Literal["POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"]
# Why an interaction has (or lacks) a sentiment: ANALYSED has one; PENDING waits for Comprehend to
# come back (re-enriched later); the others are final and say why there is none.
SentimentStatus = Literal[
    "ANALYSED", "PENDING", "UNSUPPORTED_LANGUAGE", "NO_TEXT", "UNDETERMINED_LANGUAGE", "FAILED"
]

PLATFORMS: tuple[str, ...] = Platform.__args__  # type: ignore[attr-defined]
KINDS: tuple[str, ...] = Kind.__args__  # type: ignore[attr-defined]

# One cap for every platform's ids (message, thread, parent and user ids), in characters. The longest
# real ids are far shorter (a WhatsApp message id is about 60, a LinkedIn comment URN about 80), and it
# keeps every key we derive from an id well inside DynamoDB's key limits.
MAX_ID_CHARS = 256
# Characters no id may hold: controls (a newline or tab), lone surrogates (not encodable), line and
# paragraph separators. Message and thread ids are keys and appear in URLs; a user id only needs to be
# encodable, since it is stored as given and matched through its subject_id.
_NOT_IN_IDS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")
# The same rule as a JSON Schema pattern, for bodies a sender validates against our schema.
MESSAGE_ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]*$"
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def check_message_id(value: str) -> str:
    """``value`` if it obeys the id rules of message, thread and parent ids; ``ValueError`` saying which not."""
    if len(value) > MAX_ID_CHARS:
        raise ValueError(f"an id is at most {MAX_ID_CHARS} characters")
    if not value.strip():
        raise ValueError("an id cannot be blank")
    if _NOT_IN_IDS.search(value):
        raise ValueError("an id cannot hold control characters, lone surrogates or line separators")
    return value


def _user_id(value: str) -> str:
    if len(value) > MAX_ID_CHARS:
        raise ValueError(f"a user id is at most {MAX_ID_CHARS} characters")
    if not value.strip():
        raise ValueError("a user id cannot be blank")
    if _SURROGATES.search(value):
        raise ValueError("a user id cannot hold lone surrogates")
    return value


MessageId = Annotated[str, AfterValidator(check_message_id)]


def _checked_author(author: Author) -> Author:
    _user_id(author.user_id)
    return author


def repair_text(value: str) -> str:
    """``value`` with every lone surrogate (text no encoder can write) replaced by U+FFFD.

    A platform's JSON may carry half of an emoji (``"\\ud83d"``); the message is kept, that character
    is not.

    >>> repair_text("ok \\ud83d!") == "ok \\ufffd!"
    True
    >>> repair_text("fine") == "fine"
    True
    """
    return _SURROGATES.sub("\ufffd", value)


def needs_repair(draft: InteractionDraft) -> bool:
    """True when a text of the draft holds lone surrogates that :func:`repair_text` will replace."""
    texts = (draft.text, draft.author.handle, draft.author.display_name)
    return any(text is not None and _SURROGATES.search(text) is not None for text in texts)


class _Model(BaseModel):
    # A validation error names the field, never the value: it may be a message or a handle, and errors
    # reach logs.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class Author(_Model):
    user_id: str = Field(
        min_length=1,
        description="The platform's id of the person (string, never a number), as the platform sent it.",
    )
    handle: str | None = None
    display_name: str | None = None
    follower_count: int | None = Field(default=None, ge=0)


class SentimentScores(_Model):
    positive: float
    negative: float
    neutral: float
    mixed: float


class Sentiment(_Model):
    label: SentimentLabel
    scores: SentimentScores


class Routing(_Model):
    teams: list[str]
    priority: Literal["P1", "P2", "P3", "P4"]
    sla_due_at: AwareDatetime
    rules: list[str] = Field(description="Ids of the rules that matched.")


class InteractionDraft(_Model):
    """What a platform adapter makes of one message: everything but the pseudonymous subject id."""

    platform: Platform
    kind: Kind
    native_id: str = Field(min_length=1)
    thread_id: str | None = None
    parent_id: str | None = None
    author: Author
    text: str = ""
    language: str | None = Field(
        default=None, description="A language the platform reported reliably (BCP-47), else null."
    )
    occurred_at: AwareDatetime

    @property
    def interaction_id(self) -> str:
        return f"{self.platform}:{self.native_id}"


class Interaction(_Model):
    interaction_id: str = Field(pattern=r"^[a-z]+:.+$")
    interaction_ref: str = Field(
        pattern=r"^i_[0-9a-f]{32}$",
        description="A keyed hash of interaction_id: what logs, events and keys carry instead of platform ids.",
    )
    subject_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    platform: Platform
    kind: Kind
    native_id: MessageId = Field(min_length=1)
    thread_id: MessageId | None = None
    parent_id: MessageId | None = None
    author: Annotated[Author, AfterValidator(_checked_author)]
    text: str = ""
    language: str | None = None
    sentiment: Sentiment | None = None
    sentiment_status: SentimentStatus | None = None
    occurred_at: AwareDatetime
    received_at: AwareDatetime
    routing: Routing | None = None

    @classmethod
    def from_draft(cls, draft: InteractionDraft, *, pepper: str, received_at: datetime) -> Interaction:
        """Complete a draft with its ``interaction_id``, ``interaction_ref`` and ``subject_id``.

        Text that cannot be encoded (lone surrogates) is repaired (:func:`repair_text`); ids that break
        the id rules (:data:`MAX_ID_CHARS`, no control characters) raise ``ValidationError``, which the
        ingest function turns into the refusal of this one item.

        >>> from datetime import UTC
        >>> draft = InteractionDraft(platform="x", kind="mention", native_id="1",
        ...     author=Author(user_id="42"), occurred_at=datetime(2026, 1, 1, tzinfo=UTC))
        >>> Interaction.from_draft(draft, pepper="p", received_at=datetime(2026, 1, 1, tzinfo=UTC)).interaction_id
        'x:1'
        """
        fields = draft.model_dump(exclude_none=False)
        fields["text"] = repair_text(draft.text)
        author = fields["author"]
        for name in ("handle", "display_name"):
            if author.get(name) is not None:
                author[name] = repair_text(author[name])
        return cls(
            interaction_id=draft.interaction_id,
            interaction_ref=interaction_ref(pepper, draft.interaction_id),
            subject_id=subject_id(pepper, draft.platform, draft.author.user_id),
            received_at=received_at,
            **fields,
        )


def subject_id(pepper: str, platform: str, user_id: str) -> str:
    """The pseudonymous id of a data subject: ``HMAC-SHA256(pepper, "platform:" + NFC(user_id))`` in hex.

    User ids are matched in Unicode normal form C everywhere (ingest, the API, erasure): an id that
    arrives composed and the same id decomposed are one person.

    >>> len(subject_id("pepper", "x", "123"))
    64
    >>> subject_id("p", "generic", "Jos\\u00e9") == subject_id("p", "generic", "Jose\\u0301")
    True
    """
    normal = unicodedata.normalize("NFC", user_id)
    return hmac.new(pepper.encode(), f"{platform}:{normal}".encode(), hashlib.sha256).hexdigest()


def interaction_ref(pepper: str, interaction_id: str) -> str:
    """The project's own id of an interaction: ``"i_"`` + 32 hex of HMAC-SHA256(pepper, "interaction:" + id).

    Platform ids can carry personal data (a WhatsApp message id encodes the customer's phone number, an
    X DM id the two user ids): logs, events and derived keys carry this instead. Keyed, so it cannot be
    computed, or reversed, without the pepper; the CRM API computes it to find an interaction by its
    platform id.

    >>> ref = interaction_ref("pepper", "whatsapp:wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=")
    >>> ref.startswith("i_"), len(ref)
    (True, 34)
    """
    digest = hmac.new(pepper.encode(), f"interaction:{interaction_id}".encode(), hashlib.sha256)
    return "i_" + digest.hexdigest()[:32]
