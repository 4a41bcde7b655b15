"""The ranges of a Telegram session's numeric settings, defined once: the model's checks, the
admin's form (its messages and input limits), ``loginsession`` and the engine's reading of a
stored value all take them from here (docs/using.md "Operator: Telegram sessions").

:func:`bounds_for` gives a backend's ranges: a simulator reaches no one, so its delay alone may go
below Telegram's floor. ``TelegramSession.held`` is how the engine reads a value stored outside
its range anyway (a raw UPDATE, a row older than these ranges): the nearest end of the range
(:meth:`tgcampaigns.bounds.Bounds.held`), so it never crashes on it nor sends faster than the
range allows.
"""

from __future__ import annotations

from tgcampaigns.bounds import Bounds

# The fastest pace any Telegram session sends at: one request every 0.04 s (25 a second, 1500 a
# minute), the bot default (PACE_DEFAULTS). Telegram's Bots FAQ
# (core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this): bulk messages "not
# more than about 30 messages per second". User accounts: Telegram publishes no figure; their
# default is far slower (20 s), and an operator may raise it up to this same floor, no further.
# Only the delay holds a burst down (a per-minute ceiling lets a minute's sends leave at once), so
# the floor is on the delay.
FASTEST_DELAY = 0.04
# Past an hour between two sends a session would take days per hundred people: pace a slow drip
# with the daily cap instead (as a campaign's own delay, campaigns.models.campaign.DELAY_SECONDS).
SEND_DELAY = Bounds(FASTEST_DELAY, 3600, "seconds", whole=False)
SIMULATED_SEND_DELAY = Bounds(0, 3600, "seconds", whole=False)
# 0: no ceiling beside the delay; above 1500 (60 / FASTEST_DELAY) a ceiling would never bind.
MAX_PER_MINUTE = Bounds(0, 1500, "requests per minute")
# 0: no cap; above a day at the fastest pace (1500 × 1440) a cap would never bind.
DAILY_CAP = Bounds(0, 1500 * 1440, "requests per UTC day")
# A share of the rows under "weighted": 1 to 100 (a share a hundred times another's is all of it).
WEIGHT = Bounds(1, 100)
# MTProto's initConnection carries api_id as an `int` (32-bit signed; core.telegram.org/method/
# initConnection); my.telegram.org hands out positive ones.
API_ID = Bounds(1, 2**31 - 1)

# Each bounded field of a Telegram session, and of a simulated one.
BOUNDS: dict[str, Bounds] = {
    "weight": WEIGHT,
    "send_delay": SEND_DELAY,
    "max_per_minute": MAX_PER_MINUTE,
    "daily_cap": DAILY_CAP,
    "api_id": API_ID,
}
SIMULATED_BOUNDS: dict[str, Bounds] = {**BOUNDS, "send_delay": SIMULATED_SEND_DELAY}

# The simulator's numbers (sessions_app.transport.simulator): name → (range, whether it is a
# [min, max] pair). Its other keys (script, peers, replies, ledger) are no numbers.
RATE = Bounds(0, 1, whole=False)
SIMULATOR_NUMBERS: dict[str, tuple[Bounds, bool]] = {
    "seed": (Bounds(0, 2**63 - 1), False),
    "latency_ms": (Bounds(0, 60_000, "milliseconds", whole=False), True),
    "transient_rate": (RATE, False),
    "recipient_error_rate": (RATE, False),
    "flood_rate": (RATE, False),
    "flood_seconds": (Bounds(0, 86_400, "seconds", whole=False), True),
    "read_rate": (RATE, False),
    "reply_rate": (RATE, False),
    "read_after_s": (Bounds(0, 30 * 86_400, "seconds", whole=False), True),
    "reply_after_s": (Bounds(0, 30 * 86_400, "seconds", whole=False), True),
}


def bounds_for(backend: str) -> dict[str, Bounds]:
    """The ranges of a session of ``backend`` ("telethon" or "simulator"): field name → Bounds."""
    return SIMULATED_BOUNDS if backend == "simulator" else BOUNDS


def simulator_problems(config: object) -> list[str]:
    """What is wrong with a simulator configuration's numbers, for staff (empty: nothing)."""
    if not isinstance(config, dict):
        return ["The simulator's configuration is an object of settings, {…}."]
    problems = []
    for name, (bounds, pair) in SIMULATOR_NUMBERS.items():
        if name not in config:
            continue
        value = config[name]
        if pair:
            if not (isinstance(value, list) and len(value) == 2 and all(v in bounds for v in value)):
                problems.append(f"{name}: [min, max], each {_each(bounds)}.")
            elif value[0] > value[1]:
                problems.append(f"{name}: [min, max], the smaller first.")
        elif value not in bounds:
            problems.append(f"{name}: {bounds.message}")
    return problems


def _each(bounds: Bounds) -> str:
    """ "a number of seconds from 0 to 86400" (a range's sentence without "Must be")."""
    return bounds.message.removeprefix("Must be ").rstrip(".")
