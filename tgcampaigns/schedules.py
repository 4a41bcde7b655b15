"""The django-q2 schedules that ``migrate`` keeps in place (each app's ``post_migrate`` receiver
calls :func:`keep_every_minutes`). Any app may import it: it touches django-q2's model only when
called."""

from __future__ import annotations


def keep_every_minutes(name: str, func: str, *, minutes: int = 1) -> None:
    """Keep exactly one django-q2 schedule called ``name`` that runs ``func`` (a dotted path)
    every ``minutes`` minutes, for ever: created the first time, updated in place after that."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=name,
        defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1},
    )
