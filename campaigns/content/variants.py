"""A/B variants: up to four wordings of a campaign and the split of its recipients among them.

Variant A is the campaign's ``message``; B, C and D are ``Campaign.variants`` in order. The split
gives each variant a whole percent of the recipients, plus an optional ``hold`` share: the
hold-out, sent the winning wording once staff choose it. Shares add up to 100.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

LABELS = ("A", "B", "C", "D")
HOLD = "hold"
# Statement of the split order: variants first, the hold-out last (launch assigns in this order).
SPLIT_ORDER = (*LABELS, HOLD)


def labels_of(variants: Sequence[str]) -> list[str]:
    """The labels a campaign with these other wordings has: ["A"] alone when it has none."""
    return list(LABELS[: 1 + len([v for v in variants or [] if v])])


def text_of(message: str, variants: Sequence[str], label: str) -> str:
    """The template of variant ``label`` ("" or "A": the message). Raises KeyError for a label
    the campaign does not have."""
    if label in ("", "A"):
        return message
    index = LABELS.index(label) - 1
    if index >= len(variants or []) or not variants[index]:
        raise KeyError(label)
    return variants[index]


def is_test(variants: Sequence[str], split: Mapping[str, int]) -> bool:
    """Whether the campaign sends more than one wording."""
    return len(labels_of(variants)) > 1 and bool(split)


def split_problems(message: str, variants: Sequence[str], split: Mapping[str, int]) -> list[str]:
    """What is wrong with a split, one sentence each ([] when it is usable, or when there is no
    test: no other wording and no split). The rules: B, C, D in order without gaps; every share
    a whole number from 0 to 100; shares add up to 100; a share only for a variant that has a
    text; every variant with a text gets a share; a hold-out only with two variants or more."""
    problems: list[str] = []
    variants = list(variants or [])
    texts = [message, *variants]
    if not split and not any(variants):
        return []
    for i, text in enumerate(variants):
        if text and not all(variants[:i]):
            problems.append(
                f"Variant {LABELS[i + 1]} has a text but variant {LABELS[i]} has none: fill them in order."
            )
    labels = labels_of(variants)
    if len(labels) < 2:
        problems.append("An A/B test needs at least variant B besides the message (A).")
    split = dict(split or {})
    unknown = sorted(set(split) - set(SPLIT_ORDER))
    if unknown:
        problems.append(f"The split names {', '.join(unknown)}: only A–D and hold are known.")
    shares = {}
    for name, value in split.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
            problems.append(f"The share of {name} must be a whole percent from 0 to 100.")
        else:
            shares[name] = value
    if sum(shares.values()) != 100:
        problems.append(f"The shares add up to {sum(shares.values())}%: they must add up to 100%.")
    for i, label in enumerate(LABELS):
        has_text = i < len(texts) and bool(texts[i].strip())
        share = shares.get(label, 0)
        if share and not has_text:
            problems.append(f"Variant {label} has a share of {share}% but no text.")
        if has_text and label in labels and not share and len(labels) > 1:
            problems.append(f"Variant {label} has a text but no share: give it one, or remove its text.")
    if shares.get(HOLD) and len(labels) < 2:
        problems.append("A hold-out (send the winner later) needs at least two variants to choose from.")
    return problems


def cumulative(split: Mapping[str, int]) -> list[tuple[str, int]]:
    """(name, upper bound) in :data:`SPLIT_ORDER` for the shares above 0: a bucket 0–99 belongs to
    the first name whose bound is above it."""
    bounds, total = [], 0
    for name in SPLIT_ORDER:
        share = int(split.get(name, 0) or 0)
        if share > 0:
            total += share
            bounds.append((name, total))
    return bounds


def cumulative_shares(split: Mapping[str, int]) -> list[tuple[str, int]]:
    """(name, percent) in :data:`SPLIT_ORDER` for the shares above 0."""
    return [(name, int(split.get(name, 0) or 0)) for name in SPLIT_ORDER if int(split.get(name, 0) or 0) > 0]


def hold_range(split: Mapping[str, int]) -> tuple[int, int] | None:
    """The buckets (lower inclusive, upper exclusive, 0–100) of the hold-out, as the launch assigns
    them (:func:`cumulative`, a row's bucket is ``(id * 37) % 100``); None without a hold-out. The
    split is fixed once launched, so these are the rows that were held, whatever they became."""
    lower = 0
    for name, upper in cumulative(split):
        if name == HOLD:
            return lower, upper
        lower = upper
    return None


def expected_counts(split: Mapping[str, int], rows: int) -> list[tuple[str, int, int]]:
    """(name, percent, rows) in :data:`SPLIT_ORDER` for the shares above 0, the rows adding up to
    ``rows`` (largest remainders get the odd ones). An estimate before launch: the launch assigns
    by each row's id (:func:`cumulative`), exact over every run of 100 consecutive ids, and the
    ids are known only once the rows are written."""
    shares = cumulative_shares(split)
    total = sum(share for _, share in shares) or 1
    exact = [rows * share / total for _, share in shares]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(shares)), key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[: rows - sum(counts)]:
        counts[i] += 1
    return [(name, share, n) for (name, share), n in zip(shares, counts, strict=True)]
