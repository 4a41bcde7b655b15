"""The app imports on every Telethon that requirements.txt allows (issue 18, item 6): Telethon's
error classes are looked up by name, so a version without one (``FrozenMethodInvalidError`` is
recent) still imports, and the error it stands for is still classified by its RPC name."""

from __future__ import annotations

import importlib

import pytest
from telethon import errors as tg

import sessions_app.login
import sessions_app.transport.errors
import sessions_app.transport.telethon_media
from sessions_app.transport.base import ErrorKind

RELOADED = (sessions_app.transport.errors, sessions_app.transport.telethon_media, sessions_app.login)


@pytest.fixture
def telethon_without_frozen_method_invalid(monkeypatch):
    """Telethon as if it had no ``FrozenMethodInvalidError``, and our modules imported under it."""
    monkeypatch.delattr(tg, "FrozenMethodInvalidError")
    monkeypatch.setattr(
        tg,
        "rpc_errors_dict",
        {k: v for k, v in tg.rpc_errors_dict.items() if v.__name__ != "FrozenMethodInvalidError"},
    )
    yield [importlib.reload(module) for module in RELOADED]
    monkeypatch.undo()
    for module in RELOADED:
        importlib.reload(module)


def test_the_app_imports_on_a_telethon_without_a_named_error_class(telethon_without_frozen_method_invalid):
    errors, _, login = telethon_without_frozen_method_invalid

    assert not hasattr(tg, "FrozenMethodInvalidError")
    assert errors.classify(tg.PeerFloodError(request=None)).kind is ErrorKind.SPAM_LIMITED
    assert login.LoginError


def test_an_error_whose_class_this_telethon_lacks_is_classified_by_its_rpc_name(
    telethon_without_frozen_method_invalid,
):
    errors, _, _ = telethon_without_frozen_method_invalid
    # What Telethon raises for an RPC error it has no class for: the generic class of its code.
    error = errors.classify(tg.RPCError(request=None, message="FROZEN_METHOD_INVALID", code=420))

    assert (error.kind, error.code) == (ErrorKind.SPAM_LIMITED, "FROZEN_METHOD_INVALID")
