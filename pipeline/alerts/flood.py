"""Flood control: at most ``limit`` immediate alerts per recipient per clock hour (UTC), across workers.

Each hour a recipient has ``limit`` numbered slots, one Elasticsearch document each
(``<recipient>|<hour>|<n>``). Sending an immediate alert first takes a free slot by creating its document
(``op_type=create``: two workers can never take the same one); the slot names the message that holds it, so a
retry of the same message finds its own slot again. No free slot: the alert goes into the next digest.

The hour is the hour the message is sent, not the hour it was raised, so a backlog that drains after the mail
server comes back still reaches a recipient at no more than ``limit`` an hour.

Example::

    flood = FloodControl(outbox, limit=10)
    slot = flood.take_slot(recipient="hr@ims.example", holder="immediate:twitter:1/hr@ims.example", now=now)
    if slot is None: ...  # over the limit: digest instead
"""

from __future__ import annotations

from datetime import datetime

from pipeline.alerts.outbox import AlertOutbox, iso


def hour_start(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class FloodControl:
    def __init__(self, outbox: AlertOutbox, *, limit: int) -> None:
        self.outbox = outbox
        self.limit = limit

    def _slot_id(self, recipient: str, hour: datetime, n: int) -> str:
        return f"{recipient}|{hour:%Y-%m-%dT%H}|{n}"

    def take_slot(self, *, recipient: str, holder: str, now: datetime) -> int | None:
        """The slot number ``holder`` holds this hour (taking a free one), or None when all are taken."""
        hour = hour_start(now)
        index = self.outbox.indices.flood_slots
        ids = [self._slot_id(recipient, hour, n) for n in range(self.limit)]
        taken = self.outbox.mget(index, ids)  # real-time reads, not search
        for n, slot_id in enumerate(ids):
            if slot_id in taken and taken[slot_id].source.get("holder") == holder:
                return n
        for n, slot_id in enumerate(ids):
            if slot_id in taken:
                continue
            doc = {"recipient": recipient, "hour": iso(hour), "slot": n, "holder": holder, "claimed_at": iso(now)}
            if self.outbox.create(index, slot_id, doc):
                return n
            other = self.outbox.get(index, slot_id)
            if other is not None and other.source.get("holder") == holder:
                return n
        return None

    def used(self, *, recipient: str, now: datetime) -> int:
        """Slots ``recipient`` has used in the hour of ``now``."""
        hour = hour_start(now)
        ids = [self._slot_id(recipient, hour, n) for n in range(self.limit)]
        return len(self.outbox.mget(self.outbox.indices.flood_slots, ids))
