"""The delivery engine: intent (a campaign and its lists) → rows → sends → outcomes.

The contract is docs/design.md "Delivery contract" and "How the work is driven". The rooms:

- :mod:`.launcher` — check a campaign, materialise one row per recipient, start or resume it;
- :mod:`.control` — pause, cancel, retry failed, resend unknown, an A/B test's winner, completion;
- :mod:`.window` — quiet hours: zones and send windows; :mod:`.zones` — the rows' zones;
- :mod:`.balancing` — late binding: the strategy as a pull policy; :mod:`.assignment` — the
  sessions of a campaign, rows stranded on a session that can no longer send;
- :mod:`.driver` — one bounded slice per django-q2 task, :func:`run_until_done` for scripts;
- :mod:`.slice` — the asyncio send loop of one slice, :mod:`.pacing` its per-session pace;
- :mod:`.claiming` — take rows and mark them ``sending``; :mod:`.settling` — record what the
  requests did; :mod:`.lookups` — the loop's reads between claims; :mod:`.sql` — bulk
  INSERT/COPY, the A/B split's assignment;
- :mod:`.outcomes` — the outcome policy: what each answer does to the row, attempt, session and
  campaign; :mod:`.effects` — its effects on the session and the campaign;
- :mod:`.reaper` — recovery after crashes, scheduled starts, re-dispatch;
- :mod:`.queue` — waking workers.
- :mod:`.testsending` — a test send through one session to staff's own account or a seed list;
  :mod:`.readiness` — why a session sends or not, in staff's words.

Submodules import each other, never this package, so importing one never loads the rest.
"""

from .assignment import active_sessions, recover_stranded_rows, split_estimate
from .control import (
    WinnerRefused,
    cancel,
    choose_winner,
    finish_if_done,
    pause,
    resend_unknown,
    retry_failed,
    summary,
)
from .driver import drive, next_wake, run_until_done
from .effects import apply_error_effects
from .launcher import (
    AlreadyLaunched,
    LaunchError,
    NoUsableSession,
    check_launch,
    follow_up_reason,
    launch,
    materialise,
    recipients_estimate,
    resume,
    segment_source,
    start_prepared,
)
from .queue import enqueue_drive
from .reaper import reap
from .sql import count_materialised

__all__ = [
    "AlreadyLaunched",
    "LaunchError",
    "NoUsableSession",
    "WinnerRefused",
    "apply_error_effects",
    "active_sessions",
    "cancel",
    "check_launch",
    "choose_winner",
    "count_materialised",
    "drive",
    "enqueue_drive",
    "finish_if_done",
    "follow_up_reason",
    "launch",
    "materialise",
    "next_wake",
    "pause",
    "reap",
    "recipients_estimate",
    "recover_stranded_rows",
    "resend_unknown",
    "resume",
    "segment_source",
    "retry_failed",
    "run_until_done",
    "split_estimate",
    "start_prepared",
    "summary",
]
