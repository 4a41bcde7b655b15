"""Permission rules shared by the views that check by hand (outside a ``ModelAdmin``)."""

from __future__ import annotations


def may_view(user, model: str) -> bool:
    """Django admin's rule (``ModelAdmin.has_view_permission``): ``user`` may view ``model``
    (``"app_label.model_name"``, e.g. ``"campaigns.campaign"``) with its view **or** its change
    permission — whoever may change a thing may read it."""
    app_label, model_name = model.split(".")
    return user.has_perm(f"{app_label}.view_{model_name}") or user.has_perm(
        f"{app_label}.change_{model_name}"
    )
