"""The launch-day waiting room: when the order pool is saturated, shoppers wait their turn in first-press order.

Every order press carries the time the proxy received it (X-Request-Start). While presses are served promptly
nobody waits and nothing is written. A press that waited longer than PRESALE_QUEUE_SECONDS for a worker opens a
line: it gets a slot PRESALE_QUEUE_SECONDS ahead (time for the backlog to drain) and the answer "you are in the
queue" at once. From then on, until the line has drained, every new shopper is put behind the last one:

    slot = max(line start, last slot + 1 / PRESALE_ADMIT_PER_SECOND)

A press at or after one's slot places the order, however long it waited for a worker (sending it back would
only feed a retry storm); an earlier one is answered at once with the wait, and the page presses again when the
slot comes. A shopper's slot is fixed by their first press in a line, so admission follows
first arrival strictly, a retry or a double click keeps its place, and a shopper who walks away costs nobody a
place. PRESALE_ADMIT_PER_SECOND is what the order pool sustains (`make bench presale` measures it).

The slots live in Redis (REDIS_URL), shared by every worker and host, on Redis's own clock. Without Redis (the
embedded SQLite store) one process keeps them in memory. If Redis fails, the room lets everyone in: ordering is
idempotent and numbers are claimed in the database, so the worst case is first-come-first-served by the proxy's
backlog, never a lost or doubled order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app

log = logging.getLogger(__name__)

MEMORY_KEY = "presale_waiting_room_memory"  # app.extensions: the slots of a store without Redis
KEEP_SECONDS = 6 * 3600  # slots are forgotten this long after the campaign's last new arrival

# KEYS[1]: hash user id -> slot; KEYS[2]: the last slot given. ARGV: user id, seconds between slots, keep seconds,
# saturated (1/0), how far ahead a new line starts, slack. Returns {slot or "", now}, both on Redis's clock.
_CLAIM_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local slot = redis.call('HGET', KEYS[1], ARGV[1])
if not slot then
  local last = tonumber(redis.call('GET', KEYS[2]) or '0')
  if ARGV[4] == '0' and last <= now + tonumber(ARGV[6]) then
    return {'', string.format('%.6f', now)}
  end
  local start = now
  if ARGV[4] == '1' then start = now + tonumber(ARGV[5]) end
  slot = string.format('%.6f', math.max(start, last + tonumber(ARGV[2])))
  redis.call('SET', KEYS[2], slot, 'EX', ARGV[3])
  redis.call('HSET', KEYS[1], ARGV[1], slot)
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return {slot, string.format('%.6f', now)}
"""


@dataclass(frozen=True)
class Admission:
    admitted: bool
    wait_s: float  # until the shopper's slot (0 when admitted)
    ahead: int  # about this many shoppers are let in before this one

    @property
    def retry_ms(self) -> int:
        """When the page should press again: at the slot, never sooner than a quarter second from now."""
        return max(250, int(self.wait_s * 1000) + 50)


OPEN = Admission(admitted=True, wait_s=0.0, ahead=0)


@dataclass(frozen=True)
class Line:
    """How the line is kept for one press: the spacing of slots, and whether this press waited too long."""

    interval: float  # seconds between slots
    saturated: bool
    lead: float  # a line opened by a saturated press starts this far ahead
    slack: float  # a line that ends within this of now is no line


class MemorySlots:
    """One process's slots (no Redis): enough for the embedded store and for tests."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._slots: dict[str, dict[int, float]] = {}
        self._last: dict[str, float] = {}

    def claim(self, room: str, user_id: int, line: Line) -> tuple[float | None, float]:
        with self._lock:
            now = self._clock()
            slots = self._slots.setdefault(room, {})
            if user_id not in slots:
                last = self._last.get(room, 0.0)
                if not line.saturated and last <= now + line.slack:
                    return None, now
                start = now + line.lead if line.saturated else now
                slots[user_id] = self._last[room] = max(start, last + line.interval)
            return slots[user_id], now


def _claim_script() -> Any:
    """The slot script registered on this app's Redis client (sent once, then run by its SHA)."""
    script = current_app.extensions.get("presale_waiting_room_redis")
    if script is None:
        import redis

        client = redis.Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=0.5, socket_connect_timeout=0.5)
        script = client.register_script(_CLAIM_SLOT)
        current_app.extensions["presale_waiting_room_redis"] = script
    return script


def _room(campaign_id: int) -> str:
    return f"{current_app.config['RATELIMIT_KEY_PREFIX']}:presale-room:{campaign_id}"


def _claim(campaign_id: int, user_id: int, line: Line) -> tuple[float | None, float]:
    room = _room(campaign_id)
    if not current_app.config.get("REDIS_URL"):
        memory: MemorySlots = current_app.extensions.setdefault(MEMORY_KEY, MemorySlots())
        return memory.claim(room, user_id, line)
    slot, now = _claim_script()(
        keys=[f"{room}:slots", f"{room}:last"],
        args=[user_id, line.interval, KEEP_SECONDS, int(line.saturated), line.lead, line.slack],
    )
    return (float(slot) if slot else None), float(now)


def admit(campaign_id: int, user_id: int, *, queued_s: float = 0.0) -> Admission:
    """May this shopper place their order now? `queued_s`: how long the request waited for a worker."""
    config = current_app.config
    rate = float(config["PRESALE_ADMIT_PER_SECOND"])
    if rate <= 0:
        return OPEN
    saturated = queued_s > config["PRESALE_QUEUE_SECONDS"]
    line = Line(
        interval=1.0 / rate,
        saturated=saturated,
        lead=float(config["PRESALE_QUEUE_SECONDS"]),
        slack=float(config["PRESALE_ADMIT_BURST_SECONDS"]),
    )
    try:
        slot, now = _claim(campaign_id, user_id, line)
    except Exception as error:  # noqa: BLE001 - any Redis failure: let the shopper in (see the module's note)
        log.warning("presale waiting room unavailable, letting shoppers in: %s", type(error).__name__)
        return OPEN
    if slot is None:
        return OPEN
    wait = slot - now
    if wait <= line.slack:
        return OPEN
    return Admission(admitted=False, wait_s=wait, ahead=max(1, round(wait * rate)))
