"""The allowed range of a numeric setting, in one place: the model field's validators, the admin
form's limits and messages, the REST API's messages and the management commands' refusals are all
made from one :class:`Bounds`. Both apps hold their settings to ranges made here (a campaign's in
``Campaign.BOUNDS``, a Telegram session's in ``sessions_app.models.session_bounds``), and the
API's paging parameters too; ``sessions_app`` imports nothing of ``campaigns``, so this lives
below both.

A value outside it (a negative delay, no attempt at all, 1e308 seconds) is refused with one
sentence naming the range, whether it came from the admin's form or from the API; a value that is
no number at all (NaN, infinity) is refused with the same sentence.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

# The largest primary key (ids are BigAutoField: signed 64-bit); a larger number names no row and
# overflows the database drivers' integers.
BIGINT_MAX = 2**63 - 1

# The form and serializer error codes that mean "not a number in range" (Django's forms and DRF
# name them so): each gets the range's sentence.
REFUSALS = ("invalid", "min_value", "max_value", "overflow", "max_string_length")


@dataclass(frozen=True)
class Bounds:
    """``low`` to ``high``, both allowed; ``noun``: what the number counts ("seconds"; "" for a
    bare number); ``whole``: an integer field."""

    low: int | float
    high: int | float
    noun: str = ""
    whole: bool = True

    @property
    def message(self) -> str:
        """The sentence every refusal shows, e.g. "Must be a number of seconds from 0 to 3600."."""
        kind = "a whole number" if self.whole else "a number"
        of = f" of {self.noun}" if self.noun else ""
        return f"Must be {kind}{of} {self.words}."

    @property
    def words(self) -> str:
        """The range in a sentence: "from 0 to 3600"."""
        return f"from {_plain(self.low)} to {_plain(self.high)}"

    @property
    def span(self) -> str:
        """The range for a help text: "0–3600"."""
        return f"{_plain(self.low)}–{_plain(self.high)}"

    def validators(self) -> list:
        """The model field's validators (run by :meth:`Model.full_clean`, so by every ModelForm;
        DRF's model serializers read their limits)."""
        return [MinValueValidator(self.low, self.message), MaxValueValidator(self.high, self.message)]

    def error_messages(self) -> dict[str, str]:
        """A form or serializer field's messages for :data:`REFUSALS`: the range's sentence."""
        return dict.fromkeys(REFUSALS, self.message)

    def argument(self, text: str) -> int | float:
        """A command's option read as a number in the range (argparse's ``type=``): the number, or
        ArgumentTypeError with the range's sentence ("abc", "nan", "1e308", "-5" alike)."""
        try:
            value = int(text) if self.whole else float(text)
        except ValueError:
            value = None
        if value not in self:
            raise argparse.ArgumentTypeError(self.message)
        return value

    def held(self, value: int | float, default: int | float) -> int | float:
        """``value`` as a setting stored outside the range anyway (a raw UPDATE, a row older than
        the range) is obeyed: itself when within it; else the nearest end of it; ``default`` for
        one that is no number (NaN, which PostgreSQL stores). So the engine never overflows a
        wait on it, divides by it, nor goes faster than the range allows."""
        if value in self:
            return value
        if isinstance(value, float) and math.isnan(value):
            return default
        return self.low if value < self.low else self.high

    def __contains__(self, value: object) -> bool:
        """Whether ``value`` is a number (an int where ``whole``) in the range; never NaN, which
        compares false."""
        kinds = int if self.whole else int | float
        return isinstance(value, kinds) and not isinstance(value, bool) and self.low <= value <= self.high


def bounded(field: forms.Field, bounds: Bounds) -> None:
    """Hold a form ``field`` to ``bounds``: the range's sentence for every refusal (out of range,
    NaN, infinity, no number) and the browser's input limits. The model refuses such a value on
    save either way."""
    field.error_messages.update(bounds.error_messages())
    field.widget.attrs.update(min=bounds.low, max=bounds.high)


def _plain(number: int | float) -> str:
    """``number`` as people write it: 3600, not 3600.0 or 3.6e+03."""
    return str(int(number)) if float(number).is_integer() else str(number)


# A row's id given as a number (a filter, a segment's list or campaign).
ROW_ID = Bounds(1, BIGINT_MAX)
