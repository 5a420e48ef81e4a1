"""What the node subscribes to and who subscribes: the topic filters (plain, or in a share group), the
filters a slot's earlier run may have left in its persistent session, and the slots — lock files in the data
dir — that let one process per node (or, in a share group, each process) hold a subscriber client id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from cityops.sensing.mqtt.intake import DEVICE_TOPIC, STA_ROOT

if TYPE_CHECKING:
    from cityops.settings import Settings


MAX_SLOTS = 64  # subscribing processes per node (client ids <client id>, <client id>-1, …) at most


def share_group(settings: Settings) -> str | None:
    """The share group ingest subscribes in (``settings.mqtt_share_group``); None: one subscriber per node."""
    group = settings.mqtt_share_group or None
    if group is not None and (set(group) & set("/+#") or not group.isprintable()):
        raise ValueError(f"MQTT share group {group!r}: no '/', '+', '#' or control characters")
    return group


def topics(prefix: str) -> list[str]:
    """The topic filters ingest subscribes to (before any share group)."""
    return [f"{prefix}{STA_ROOT}+/Observations", f"{prefix}{STA_ROOT}Observations", f"{prefix}{DEVICE_TOPIC}"]


def subscription_filters(prefix: str, group: str | None) -> list[tuple[str, int, bool]]:
    """(topic filter, QoS, no local) of the subscription: plain, or in the share group (where MQTT 5
    forbids no local)."""
    if group is None:
        return [(t, 1, True) for t in topics(prefix)]
    return [(f"$share/{group}/{t}", 1, False) for t in topics(prefix)]


def stale_filters(prefix: str, group: str | None, previous_group: str | None) -> list[str]:
    """The filters an earlier run of this slot may have left in its persistent session in another mode
    (plain, or another share group, as its lock file recorded): subscribed both ways, the slot would
    receive messages twice (and, with a group nobody else is in, hold messages nobody takes)."""
    plain = topics(prefix)
    out = [] if group is None else plain
    if previous_group not in (None, group):
        out += [f"$share/{previous_group}/{t}" for t in plain]
    return out


@dataclass
class SubscriberSlot:
    """A held slot: an exclusive lock on ``mqtt-<client id>[-<slot>].lock``, released by :meth:`release`
    (or by the process ending). ``previous_group`` is the share group the slot's last holder subscribed in."""

    slot: int
    previous_group: str | None
    _handle: IO[str]

    @classmethod
    def take(cls, lock_path: Path, client_id: str, group: str | None) -> SubscriberSlot | None:
        """The lowest free slot (only slot 0 outside a share group), or None when all are held."""
        import fcntl

        lock_path.parent.mkdir(parents=True, exist_ok=True)
        for slot in range(MAX_SLOTS if group is not None else 1):
            path = lock_path if slot == 0 else lock_path.with_name(f"mqtt-{client_id}-{slot}.lock")
            handle = path.open("a+")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            # The lock file records the share group this slot's session subscribed in (empty: plain).
            handle.seek(0)
            previous = handle.read().strip() or None
            handle.seek(0)
            handle.truncate()
            handle.write(group or "")
            handle.flush()
            return cls(slot, previous, handle)
        return None

    def release(self) -> None:
        self._handle.close()  # closing the file releases the lock
