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
Kind = Literal["comment", "mention", "direct_message", "reply", "review", "post", "brand_reply"]
# The kind of the brand's own messages (a Page's comment reply, a Messenger echo, a WhatsApp ``sent``
# status, …): stored with their conversation, never analysed, never routed as a customer's message.
BRAND_REPLY: Kind = "brand_reply"
SentimentLabel = Literal["POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"]
# Why an interaction has (or lacks) a sentiment: ANALYSED has one; PENDING waits for Comprehend to
# come back (re-enriched later); the others are final and say why there is none.
SentimentStatus = Literal[
    "ANALYSED", "PENDING", "UNSUPPORTED_LANGUAGE", "NO_TEXT", "UNDETERMINED_LANGUAGE", "FAILED"
]

PLATFORMS: tuple[str, ...] = Platform.__args__  # type: ignore[attr-defined]
KINDS: tuple[str, ...] = Kind.__args__  # type: ignore[attr-defined]
# A customer's segments, computed as its messages arrive (socialcrm.routing.segments).
Segment = Literal["at-risk", "advocate", "vip", "repeat-complainer"]
SEGMENTS: tuple[str, ...] = Segment.__args__  # type: ignore[attr-defined]

# One cap for every platform's ids (message, thread, parent and user ids), in characters. The longest
# real ids are far shorter (a WhatsApp message id is about 60, a LinkedIn comment URN about 80), and it
# keeps every key we derive from an id well inside DynamoDB's key limits.
MAX_ID_CHARS = 256
# A conversation key joins at most a few ids (``"dm:" + account + ":" + customer``); it is only ever
# hashed (``conversation_ref``), and one longer than this refuses its item.
MAX_CONVERSATION_KEY_CHARS = 600
# Characters no id may hold: controls (a newline or tab), lone surrogates (not encodable), line and
# paragraph separators. Message and thread ids are keys and appear in URLs; a user id only needs to be
# encodable, since it is stored as given and matched through its subject_id.
_NOT_IN_IDS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")
# The same rule as a JSON Schema pattern, for bodies a sender validates against our schema.
MESSAGE_ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]*$"
# The reply id socialcrm puts in a platform's echo marker (socialcrm.replies.reply.REPLY_ID_PATTERN).
REPLY_MARKER_PATTERN = r"^r_[0-9a-f]{32}$"
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


def _conversation_key(value: str) -> str:
    if len(value) > MAX_CONVERSATION_KEY_CHARS:
        raise ValueError(f"a conversation key is at most {MAX_CONVERSATION_KEY_CHARS} characters")
    if not value.strip():
        raise ValueError("a conversation key cannot be blank")
    if _NOT_IN_IDS.search(value):
        raise ValueError(
            "a conversation key cannot hold control characters, lone surrogates or line separators"
        )
    return value


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
    case_id: str | None = Field(
        default=None, description="The case the message is in (its conversation's); null: recorded, no case."
    )
    teams: list[str]
    priority: Literal["P1", "P2", "P3", "P4"]
    sla_due_at: AwareDatetime | None = Field(description="The case's first-response due time; null: no case.")
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
    conversation_key: str | None = Field(
        default=None,
        description="The platform's conversation this message belongs to (README, platform table); "
        "null: its thread, else the message alone.",
    )
    customer_id: str | None = Field(
        default=None,
        description="For a brand reply: the user id of the customer it answers, when the platform says.",
    )
    reply_marker: str | None = Field(
        default=None,
        pattern=REPLY_MARKER_PATTERN,
        description="For a brand reply socialcrm sent: the reply id the platform echoed back.",
    )
    phone: str | None = Field(
        default=None,
        max_length=64,
        description="The person's phone number, when the sender gives it: only its keyed hash is kept "
        "(identity_keys), to link the person's identities.",
    )

    @property
    def interaction_id(self) -> str:
        return f"{self.platform}:{self.native_id}"

    @property
    def conversation(self) -> str:
        """The conversation key, defaulted: the thread, else the message itself."""
        if self.conversation_key is not None:
            return self.conversation_key
        return f"thread:{self.thread_id}" if self.thread_id is not None else f"message:{self.native_id}"


class _DraftIds(_Model):
    """The ids ``from_draft`` checks before it hashes any of them (an id no encoder can write would fail
    the hash): a refusal names the field, and is the refusal of the item (``ingest.admit``)."""

    native_id: MessageId
    user_id: Annotated[str, AfterValidator(_user_id)]
    thread_id: MessageId | None = None
    parent_id: MessageId | None = None
    conversation_key: Annotated[str, AfterValidator(_conversation_key)] | None = None
    customer_id: Annotated[str, AfterValidator(_user_id)] | None = None


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
    conversation_ref: str | None = Field(
        default=None,
        pattern=r"^v_[0-9a-f]{32}$",
        description="A keyed hash of the platform and conversation key: the conversation the message belongs to.",
    )
    routing: Routing | None = None
    reply_marker: str | None = Field(
        default=None,
        pattern=REPLY_MARKER_PATTERN,
        description="A brand reply socialcrm sent: its reply id, as the platform echoed it.",
    )
    identity_keys: list[Annotated[str, Field(pattern=r"^k_[0-9a-f]{64}$")]] = Field(
        default_factory=list,
        description="Keyed hashes of the strong identifiers the message carried (a phone number): the "
        "same key on two identities links them into one customer. Never the identifier itself.",
    )

    @property
    def from_brand(self) -> bool:
        return self.kind == BRAND_REPLY

    @classmethod
    def from_draft(cls, draft: InteractionDraft, *, pepper: str, received_at: datetime) -> Interaction:
        """Complete a draft with its ``interaction_id``, ``interaction_ref`` and ``subject_id``.

        Text that cannot be encoded (lone surrogates) is repaired (:func:`repair_text`); ids that break
        the id rules (:data:`MAX_ID_CHARS`, no control characters), a conversation key longer than
        :data:`MAX_CONVERSATION_KEY_CHARS` and a ``customer_id`` that is no user id raise
        ``ValidationError``, which the ingest function turns into the refusal of this one item.

        >>> from datetime import UTC
        >>> draft = InteractionDraft(platform="x", kind="mention", native_id="1",
        ...     author=Author(user_id="42"), occurred_at=datetime(2026, 1, 1, tzinfo=UTC))
        >>> Interaction.from_draft(draft, pepper="p", received_at=datetime(2026, 1, 1, tzinfo=UTC)).interaction_id
        'x:1'
        """
        _DraftIds(
            native_id=draft.native_id,
            user_id=draft.author.user_id,
            thread_id=draft.thread_id,
            parent_id=draft.parent_id,
            conversation_key=draft.conversation_key,  # the default is built from the ids checked here
            customer_id=draft.customer_id,
        )
        fields = draft.model_dump(exclude_none=False, exclude={"conversation_key", "customer_id", "phone"})
        fields["text"] = repair_text(draft.text)
        author = fields["author"]
        for name in ("handle", "display_name"):
            if author.get(name) is not None:
                author[name] = repair_text(author[name])
        # A brand reply belongs to the customer it answers, when the platform names them: it is part
        # of that person's history, exported and erased with it.
        person = (
            draft.customer_id if draft.kind == BRAND_REPLY and draft.customer_id else draft.author.user_id
        )
        return cls(
            interaction_id=draft.interaction_id,
            interaction_ref=interaction_ref(pepper, draft.interaction_id),
            subject_id=subject_id(pepper, draft.platform, person),
            received_at=received_at,
            conversation_ref=conversation_ref(pepper, draft.platform, draft.conversation),
            identity_keys=[] if draft.kind == BRAND_REPLY else identity_keys(pepper, draft),
            **fields,
        )


_PHONE_SEPARATORS = re.compile(r"[\s().\-]")


def phone_digits(value: str | None, *, international: bool = False) -> str | None:
    """A phone number as WhatsApp's ``wa_id`` writes it (country code and number, digits only), or None
    when it is not one (E.164: at most 15 digits; fewer than 8 is no full international number). With
    ``international``, the number must say it is one (a leading ``+`` or ``00``): a national number's
    digits would be read as another country's.

    >>> phone_digits("+34 600-000 000"), phone_digits("0034600000000"), phone_digits("call me")
    ('34600000000', '34600000000', None)
    >>> phone_digits("600 000 000", international=True), phone_digits("34600000000")
    (None, '34600000000')
    """
    if value is None:
        return None
    digits = _PHONE_SEPARATORS.sub("", value.strip())
    marked = digits.startswith(("+", "00"))
    digits = digits[1:] if digits.startswith("+") else digits[2:] if digits.startswith("00") else digits
    if international and not marked:
        return None
    return digits if digits.isascii() and digits.isdigit() and 8 <= len(digits) <= 15 else None


def identity_keys(pepper: str, draft: InteractionDraft) -> list[str]:
    """The keyed hashes of the strong identifiers a message carries: a WhatsApp sender's number (its
    ``wa_id``), and the phone number a ``generic`` sender verified for the person (``phone_verified``; the
    adapter drops an unverified one). Compared, never stored raw.

    >>> from datetime import UTC
    >>> at = datetime(2026, 1, 1, tzinfo=UTC)
    >>> wa = InteractionDraft(platform="whatsapp", kind="direct_message", native_id="1",
    ...     author=Author(user_id="34600000000"), occurred_at=at)
    >>> web = InteractionDraft(platform="generic", kind="review", native_id="2",
    ...     author=Author(user_id="ana"), occurred_at=at, phone="+34 600 000 000")
    >>> identity_keys("p", wa) == identity_keys("p", web) != []
    True
    """
    if draft.platform == "whatsapp":  # the sender's number, as WhatsApp verified it
        digits = phone_digits(draft.author.user_id)
    else:  # a number the sender says it verified, written internationally
        digits = phone_digits(draft.phone, international=True)
    if digits is None:
        return []
    digest = hmac.new(pepper.encode(), f"phone:{digits}".encode(), hashlib.sha256).hexdigest()
    return [f"k_{digest}"]


def reply_marker(value: object) -> str | None:
    """Our reply id, when a platform's echo carries one (other apps' markers are not ours: None).

    >>> reply_marker("r_" + "0" * 32), reply_marker("campaign-7")
    ('r_00000000000000000000000000000000', None)
    """
    return value if isinstance(value, str) and re.fullmatch(REPLY_MARKER_PATTERN, value) else None


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


def conversation_ref(pepper: str, platform: str, conversation_key: str) -> str:
    """The project's id of a conversation: ``"v_"`` + 32 hex of HMAC-SHA256(pepper, "conversation:" +
    platform + ":" + key). Conversation keys name people (a DM pair, a phone number): keyed like
    :func:`interaction_ref`, so the ref says nothing without the pepper.

    >>> conversation_ref("p", "messenger", "page:1|user:2") == conversation_ref("p", "messenger", "page:1|user:2")
    True
    """
    digest = hmac.new(pepper.encode(), f"conversation:{platform}:{conversation_key}".encode(), hashlib.sha256)
    return "v_" + digest.hexdigest()[:32]
