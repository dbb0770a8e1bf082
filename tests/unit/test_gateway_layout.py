"""The gateway's shape: route modules share gateway/route_kit.py and never import each other, and
the command-side key schemes (gateway/keys.py) spell the very keys that live data already has
(a renamed key would orphan accounts, sessions and limits on upgrade)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gateway.keys import AccountKeys, IdempotencyKeys, RateLimitKeys, SessionKeys, UploadKeys

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
ROUTES = sorted(GATEWAY.glob("routes_*.py"))


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


@pytest.mark.parametrize("path", ROUTES, ids=lambda p: p.stem)
def test_route_modules_share_the_kit_not_each_other(path: Path) -> None:
    imported = _imported(path)
    others = {f"gateway.{p.stem}" for p in ROUTES} - {f"gateway.{path.stem}"}
    assert not imported & others
    assert "gateway.route_kit" in imported


def test_there_are_route_modules_to_check() -> None:
    assert len(ROUTES) >= 7


def test_the_key_schemes_spell_todays_keys() -> None:
    assert AccountKeys.account(42) == "account:{42}"
    assert AccountKeys.name("ana") == "account:name:ana"
    assert AccountKeys.PATTERN == "account:{*}"
    assert SessionKeys.revoked(42, "s1") == "session:revoked:{42}:s1"
    assert UploadKeys.session(7) == "upload:{7}"
    assert UploadKeys.owned(42) == "uploads:{42}"
    assert RateLimitKeys.window("follow", "42") == "ratelimit:follow:{42}"
    assert RateLimitKeys.login("addr", "ab12") == "ratelimit:login:addr:{ab12}"
    assert IdempotencyKeys.record(42, "k") == "idem:{42}:k"
    assert IdempotencyKeys.record(None, "k") == "idem:{anon:k}"


def test_an_accounts_session_keys_share_its_slot() -> None:
    """The session check reads the account hash and the revocation in one script call."""
    tag = AccountKeys.account(42).partition("{")[2].partition("}")[0]
    assert f"{{{tag}}}" in SessionKeys.revoked(42, "s1")
