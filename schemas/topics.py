"""Kafka topic names: the queues between the stages, in the order data flows through them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TopicNames:
    """Names of the pipeline's topics; ``prefix`` isolates deployments (and test sessions) on one cluster.

    - ``raw``: collectors -> ``normalise_mentions`` (JSON bytes, key = mention id; validated by the agent)
    - ``normalised``: ``normalise_mentions`` -> ``deduplicate_mentions`` (key = content fingerprint)
    - ``unique``: ``deduplicate_mentions`` -> ``classify_mentions`` (key = mention id)
    - ``duplicates``: mentions dropped as copies of an earlier one (key = mention id)
    - ``classified``: ``classify_mentions`` -> ``index_flagged`` and alerting (key = mention id)
    - ``dead_letter``: records any stage could not process, with the reason (key = original key)
    - ``alerts``: alerts decided, waiting to be delivered (key = alert id)
    """

    prefix: str = ""

    def _name(self, name: str) -> str:
        return f"{self.prefix}{name}"

    @property
    def raw(self) -> str:
        return self._name("mentions.raw")

    @property
    def normalised(self) -> str:
        return self._name("mentions.normalised")

    @property
    def unique(self) -> str:
        return self._name("mentions.unique")

    @property
    def duplicates(self) -> str:
        return self._name("mentions.duplicates")

    @property
    def classified(self) -> str:
        return self._name("mentions.classified")

    @property
    def dead_letter(self) -> str:
        return self._name("mentions.dead_letter")

    @property
    def alerts(self) -> str:
        return self._name("alerts.pending")

    def all(self) -> list[str]:
        return [self.raw, self.normalised, self.unique, self.duplicates, self.classified, self.dead_letter,
                self.alerts]
