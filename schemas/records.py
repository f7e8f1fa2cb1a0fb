"""The records that cross stages, as Faust records. No I/O and no settings here.

    RawMention         collectors -> mentions.raw -> normalise -> deduplicate -> classify
    ClassifiedMention  classify_mentions -> mentions.classified (every mention, flagged or not)
    FlaggedItem        index_flagged -> Elasticsearch (<prefix>-flagged-items), what HR reviews
    Alert              alert rules -> alerts.pending -> the mail sender
    DeadLetter         any stage -> mentions.dead_letter, with the reason and the original bytes

Every record carries ``schema_version``. A reader accepts the versions in ``SUPPORTED_SCHEMA_VERSIONS`` and
sends anything else to the dead-letter topic. Timestamps are ISO-8601 strings in UTC (``...Z``).
"""

from __future__ import annotations

import hashlib

import faust

SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS = frozenset({1})

# The eight policy labels of ../shared/labels.md, in the order the contract lists them.
POLICY_LABELS: tuple[str, ...] = (
    "reputation_risk",
    "disrepute",
    "logo_misuse",
    "confidential_info",
    "colleague_privacy",
    "harassment",
    "defamation",
    "safeguarding",
)

SOURCES: frozenset[str] = frozenset({
    "twitter", "facebook", "linkedin", "instagram", "tumblr", "snapchat", "reddit", "mastodon", "bluesky",
    "blog", "forum", "news_comment", "email", "youtube", "hackernews", "webhook", "rss", "replay",
})

_MAX_READABLE_ID = 200


def make_mention_id(source: str, source_id: str) -> str:
    """The stable id of a mention: the same post collected twice gets the same id (Kafka key, ES _id)."""
    mention_id = f"{source}:{source_id}"
    if len(mention_id) <= _MAX_READABLE_ID:
        return mention_id
    return f"{source}:sha256:{hashlib.sha256(source_id.encode()).hexdigest()}"


class _Record(faust.Record, abstract=True, include_metadata=False, serializer="json"):
    """Plain JSON on the wire (no Faust metadata), so non-Python consumers can read the topics."""


class Author(_Record):
    handle: str
    """The author's handle on the source network (``@name``, an email address for email)."""
    display_name: str | None = None
    is_employee: bool = False
    """True when the handle is in the employee account registry (or the collector knows it)."""
    employee_id: str | None = None


class Reach(_Record):
    """Audience figures as the source reports them; ``None`` where it reports nothing."""

    followers: int | None = None
    likes: int | None = None
    shares: int | None = None


class RawMention(_Record):
    """One public post, comment or email that mentions IMS, as collected."""

    schema_version: int
    mention_id: str
    """``make_mention_id(source, source_id)``: stable across re-collection; the Kafka key."""
    source: str
    """The network or channel: one of ``SOURCES``."""
    source_id: str
    """The source's own id for the item (tweet id, Message-ID, at:// URI ...)."""
    text: str
    """The text as posted; after ``normalise_mentions``, Unicode-normalised with control characters removed."""
    created_at: str
    """When the author posted it (ISO-8601 UTC)."""
    collected_at: str
    """When a collector fetched it (ISO-8601 UTC)."""
    author: Author
    url: str | None = None
    lang: str | None = None
    reach: Reach | None = None
    media_urls: list[str] = []
    matched_rule: str | None = None
    """Name of the mention-matching rule that selected it, when a collector used one."""
    fingerprint: str | None = None
    """Set by ``normalise_mentions``: hash of author + normalised text, the de-duplication key."""


class ClassifiedMention(_Record):
    """A mention with the classifier's decision (see ``pipeline/classifier``)."""

    schema_version: int
    mention: RawMention
    about_ims: float
    """0..1: how likely the post concerns Incident Management Solutions the company."""
    scores: dict[str, float]
    """0..1 score for each of ``POLICY_LABELS``."""
    labels: list[str]
    """Labels whose score reached the label's threshold."""
    flagged: bool
    """(about IMS or by a known employee) and at least one label: HR should review it."""
    risk: int
    """0..100, combining label scores, label severity and employee authorship."""
    explanations: dict[str, list[str]]
    """For each decided label, the words or spans that drove it."""
    classifier: str
    """Name and version of the classifier that decided."""
    classified_at: str
    image_evidence: list[dict] = []
    """For each media URL looked at: ``{"media_url", "matches": [{"asset", "kind", "score", "box"}],
    "thumbnail"?}`` (``pipeline.images.evidence``); a match sets ``logo_misuse``."""


class FlaggedItem(_Record):
    """A flagged mention as indexed for HR review; the Elasticsearch ``_id`` is ``mention_id``.

    The ``review`` object (status, assignee, notes, history) belongs to the dashboard: re-indexing the same
    mention updates every other field and never resets the review.
    """

    schema_version: int
    mention_id: str
    source: str
    source_id: str
    url: str | None
    text: str
    created_at: str
    collected_at: str
    author_handle: str
    author_display_name: str | None
    author_is_employee: bool
    employee_id: str | None
    lang: str | None
    reach_followers: int | None
    reach_likes: int | None
    reach_shares: int | None
    media_urls: list[str]
    matched_rule: str | None
    about_ims: float
    labels: list[str]
    scores: dict[str, float]
    risk: int
    explanations: dict[str, list[str]]
    classifier: str
    classified_at: str
    indexed_at: str
    image_evidence: list[dict] = []
    """Matches of the registered IMS logo, photos and artwork, each with a thumbnail stored at ingest."""

    @classmethod
    def from_classified(cls, item: ClassifiedMention, *, indexed_at: str) -> FlaggedItem:
        m = item.mention
        reach = m.reach or Reach()
        return cls(
            schema_version=SCHEMA_VERSION, mention_id=m.mention_id, source=m.source, source_id=m.source_id,
            url=m.url, text=m.text, created_at=m.created_at, collected_at=m.collected_at,
            author_handle=m.author.handle, author_display_name=m.author.display_name,
            author_is_employee=m.author.is_employee, employee_id=m.author.employee_id, lang=m.lang,
            reach_followers=reach.followers, reach_likes=reach.likes, reach_shares=reach.shares,
            media_urls=list(m.media_urls), matched_rule=m.matched_rule, about_ims=item.about_ims,
            labels=list(item.labels), scores=dict(item.scores), risk=item.risk,
            explanations=dict(item.explanations), classifier=item.classifier,
            classified_at=item.classified_at, indexed_at=indexed_at,
            image_evidence=[e for e in item.image_evidence if e.get("matches")],
        )


class Alert(_Record):
    """An e-mail alert decided by the alert rules, waiting in ``alerts.pending`` for delivery."""

    schema_version: int
    alert_id: str
    """Stable: ``immediate:<mention_id>``, ``digest:<period>``, ``surge:<window start>``; the send-once key."""
    kind: str
    """``immediate`` | ``digest`` | ``surge``."""
    recipients: list[str]
    subject: str
    mention_ids: list[str]
    labels: list[str]
    risk: int
    created_at: str


class DeadLetter(_Record):
    """A record a stage could not process. Nothing is lost: the original bytes travel with the reason."""

    schema_version: int
    stage: str
    """The agent that gave up on it (``normalise_mentions``, ``index_flagged`` ...)."""
    reason: str
    """Human-readable: what is wrong and where (``missing field 'text'``)."""
    error_type: str
    source_topic: str
    source_partition: int | None
    source_offset: int | None
    key: str | None
    payload_b64: str
    """The original value, base64, byte for byte."""
    payload_preview: str
    """The first characters of the value decoded as UTF-8 with replacement, for people reading the topic."""
    failed_at: str
