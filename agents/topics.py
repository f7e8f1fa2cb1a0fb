"""The pipeline's Faust topics, typed by the records they carry (names from ``schemas.topics``)."""

from __future__ import annotations

from dataclasses import dataclass

import faust

from pipeline.settings import Settings
from schemas.records import ClassifiedMention, DeadLetter, RawMention


@dataclass(frozen=True)
class PipelineTopics:
    raw: faust.TopicT
    normalised: faust.TopicT
    unique: faust.TopicT
    duplicates: faust.TopicT
    classified: faust.TopicT
    dead_letter: faust.TopicT


def create_topics(app: faust.App, settings: Settings) -> PipelineTopics:
    names = settings.kafka.topics

    def topic(name: str, value_type: type | None) -> faust.TopicT:
        if value_type is None:  # the edge: bytes as collectors wrote them, validated by the agent
            return app.topic(name, key_serializer="raw", value_serializer="raw")
        return app.topic(name, key_type=str, value_type=value_type, key_serializer="raw")

    return PipelineTopics(
        raw=topic(names.raw, None),
        normalised=topic(names.normalised, RawMention),
        unique=topic(names.unique, RawMention),
        duplicates=topic(names.duplicates, RawMention),
        classified=topic(names.classified, ClassifiedMention),
        dead_letter=topic(names.dead_letter, DeadLetter),
    )
