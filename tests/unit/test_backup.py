"""Backup files (infra/backup.py): encryption round trip, wrong keys, damaged files, key files,
the account key layout they rely on, and the durability helper's timeout invariant."""

from __future__ import annotations

import fnmatch
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from gateway.keys import AccountKeys
from infra import backup
from infra.backup import AccountRecord, BackupError, Snapshot
from infra.keystore import FSYNC_TIMEOUT_MS
from infra.settings import Settings
from photofeed.backup_cli import backup_app

KEY = backup.parse_key(backup.new_key_text())
OTHER_KEY = backup.parse_key(backup.new_key_text())
ids = st.integers(1, 2**63 - 1)
accounts = st.builds(AccountRecord, ids, st.text(max_size=30), st.text(max_size=100), ids)
snapshots = st.builds(
    Snapshot,
    st.integers(0, 2**53),
    st.lists(accounts, max_size=5).map(tuple),
    st.dictionaries(ids, st.binary(min_size=32, max_size=32), max_size=5),
    st.frozensets(ids, max_size=5),
)
SAMPLE = Snapshot(
    1_700_000_000_000,
    (AccountRecord(7, "ana", "$argon2id$v=19$m=19456,t=2,p=1$abc$def", 1_700_000_000_001),),
    {7: bytes(range(32))},
    frozenset({9}),
)


@given(snapshots)
def test_a_sealed_snapshot_unseals_to_itself(snapshot: Snapshot) -> None:
    assert backup.unseal(backup.seal(snapshot, KEY), KEY) == snapshot


def test_the_file_reveals_nothing_and_never_repeats() -> None:
    first, second = backup.seal(SAMPLE, KEY), backup.seal(SAMPLE, KEY)
    assert first != second  # a fresh nonce every time
    for secret in (b"ana", b"argon2id", bytes(range(32)), b"AAECAwQFBgcICQoL"):
        assert secret not in first


def test_a_wrong_key_is_named_as_such() -> None:
    with pytest.raises(BackupError, match="wrong key"):
        backup.unseal(backup.seal(SAMPLE, KEY), OTHER_KEY)


@pytest.mark.parametrize("where", [-1, -17, backup.HEADER_BYTES, backup.HEADER_BYTES + 12])
def test_a_changed_byte_is_detected(where: int) -> None:
    blob = bytearray(backup.seal(SAMPLE, KEY))
    blob[where] ^= 0x01
    with pytest.raises(BackupError, match="damaged or was tampered"):
        backup.unseal(bytes(blob), KEY)


def test_a_truncated_file_is_detected() -> None:
    blob = backup.seal(SAMPLE, KEY)
    with pytest.raises(BackupError, match="damaged or was tampered"):
        backup.unseal(blob[:-1], KEY)
    with pytest.raises(BackupError, match="not a photofeed backup"):
        backup.unseal(blob[: backup.HEADER_BYTES], KEY)


def test_other_files_and_versions_are_refused() -> None:
    blob = backup.seal(SAMPLE, KEY)
    with pytest.raises(BackupError, match="not a photofeed backup"):
        backup.unseal(b"PK\x03\x04" + blob[4:], KEY)
    newer = blob[:4] + bytes([backup.VERSION + 1]) + blob[5:]
    with pytest.raises(BackupError, match="version 2 is not supported"):
        backup.unseal(newer, KEY)


@pytest.mark.parametrize(
    ("text", "error"),
    [("not base64!", "not base64"), ("c2hvcnQ=", "32 bytes, not 5"), ("", "32 bytes, not 0")],
)
def test_bad_keys_are_refused(text: str, error: str) -> None:
    with pytest.raises(BackupError, match=error):
        backup.parse_key(text)


def test_a_new_key_is_32_random_bytes() -> None:
    assert len(KEY) == 32
    assert KEY != OTHER_KEY


def test_private_files_are_0600_and_exclusive_ones_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "k"
    backup.write_private(path, b"one", exclusive=True)
    with pytest.raises(FileExistsError):
        backup.write_private(path, b"two", exclusive=True)
    backup.write_private(path, b"three")
    assert path.read_bytes() == b"three"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["k"]  # no temp file left behind


def test_keygen_writes_a_0600_key_and_refuses_to_overwrite_it(tmp_path: Path) -> None:
    path = tmp_path / "backup.key"
    runner = CliRunner()
    assert runner.invoke(backup_app, ["keygen", str(path)]).exit_code == 0
    assert len(backup.parse_key(path.read_text())) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = runner.invoke(backup_app, ["keygen", str(path)])
    assert again.exit_code == 1
    assert "never overwritten" in again.output


def test_restore_with_a_wrong_key_fails_before_touching_valkey(tmp_path: Path) -> None:
    """The environment points at no Valkey at all: failing early is the only way to exit 1
    with the key error (a connection attempt would report Valkey instead)."""
    file = tmp_path / "b.pfbk"
    file.write_bytes(backup.seal(SAMPLE, KEY))
    key_file = tmp_path / "other.key"
    backup.write_private(key_file, backup.new_key_text().encode())
    env = {"PHOTOFEED_REDIS_URL": "redis://127.0.0.1:1/0", "PHOTOFEED_BACKUP_KEY": ""}
    result = CliRunner().invoke(
        backup_app, ["restore", str(file), "--key-file", str(key_file), "--no-log"], env=env
    )
    assert result.exit_code == 1
    assert "wrong key" in result.output
    assert "nothing was restored" in result.output


def test_a_missing_key_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        backup_app, ["create", str(tmp_path / "b")], env={"PHOTOFEED_BACKUP_KEY": ""}
    )
    assert result.exit_code == 1
    assert "--key-file PATH or set PHOTOFEED_BACKUP_KEY" in result.output
    assert not (tmp_path / "b").exists()


@given(ids)
def test_account_keys_name_their_user_and_match_the_scan_pattern(user_id: int) -> None:
    key = AccountKeys.account(user_id)
    assert AccountKeys.user_id_of(key) == user_id
    assert fnmatch.fnmatchcase(key, AccountKeys.PATTERN)


@given(st.text(min_size=1, max_size=30))
def test_username_keys_are_not_account_hashes(username: str) -> None:
    assert not fnmatch.fnmatchcase(AccountKeys.name(username), AccountKeys.PATTERN)
    with pytest.raises(ValueError, match="not an account key"):
        AccountKeys.user_id_of(AccountKeys.name(username))


def test_the_fsync_wait_outlasts_everysec_but_not_the_gateways_valkey_bound() -> None:
    assert 1000 < FSYNC_TIMEOUT_MS < Settings().dependency_timeout_s * 1000
