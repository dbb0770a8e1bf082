"""Pure logic of the locked local stack: generated credentials, Valkey's ACL, SeaweedFS's
identities and security environment, SeaweedFS JWTs, bind addresses, Kafka SASL options."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from infra.kafka import producer_config
from infra.settings import (
    ADMIN,
    GATEWAY,
    RETIRED_S3_KEYS,
    S3_APP,
    S3_IDENTITIES,
    S3_TANSU,
    S3_UPLOAD,
    VALKEY_ROLES,
    WORKER,
    InsecureSettings,
    Settings,
    generated_secrets,
    is_loopback,
)
from infra.stack import (
    ORIGINALS_PREFIX,
    SEAWEED_JWT_TTL_S,
    Stack,
    StackError,
    TlsFiles,
    seaweed_identities,
    seaweed_jwt,
    seaweed_security_env,
    valkey_acl,
)
from schemas.media import original_key
from streams.app import faust_settings

PASSWORDS = {ADMIN: "admin-pw", GATEWAY: "gateway-pw", WORKER: "worker-pw"}
REFUSED_TO_APPS = ("flushall", "flushdb", "config", "debug", "acl", "keys", "shutdown", "monitor")


def acl_rules(role: str) -> list[str]:
    line = next(x for x in valkey_acl(PASSWORDS).splitlines() if x.split()[1] == role)
    return line.split()[2:]


# --- Valkey ACL ------------------------------------------------------------------------------


def test_the_default_user_is_disabled_and_can_do_nothing() -> None:
    default = acl_rules("default")
    assert default[0] == "off"
    assert "-@all" in default
    assert not any(r.startswith(("#", ">", "~", "&", "+")) for r in default)


def test_passwords_are_stored_as_sha256_only() -> None:
    text = valkey_acl(PASSWORDS)
    for role, password in PASSWORDS.items():
        assert password not in text
        assert f"#{hashlib.sha256(password.encode()).hexdigest()}" in acl_rules(role)


@pytest.mark.parametrize("role", [GATEWAY, WORKER])
def test_app_roles_drop_dangerous_and_admin_commands_after_granting(role: str) -> None:
    rules = acl_rules(role)
    assert rules.index("-@dangerous") > max(rules.index("+@read"), rules.index("+@write"))
    assert rules.index("-@admin") > rules.index("+@connection")
    assert "-function" in rules
    assert "-script|flush" in rules
    # no later rule grants back a refused command (Valkey applies rules left to right)
    after = rules[rules.index("-@dangerous") :]
    assert not any(r.lstrip("+") in REFUSED_TO_APPS for r in after if r.startswith("+"))
    assert "resetchannels" in rules  # no pub/sub


def test_only_the_worker_may_rewrite_persistence_files() -> None:
    assert {"+info", "+bgsave", "+bgrewriteaof"} <= set(acl_rules(WORKER))
    assert not {"+info", "+bgsave", "+bgrewriteaof"} & set(acl_rules(GATEWAY))
    assert not any(r.startswith("+config") for r in acl_rules(WORKER))


def test_admin_may_do_everything() -> None:
    assert {"on", "~*", "&*", "+@all"} <= set(acl_rules(ADMIN))


# --- SeaweedFS ---------------------------------------------------------------------------------


KEYS = {name: (f"AK{name.upper()}", f"secret-{name}") for name in S3_IDENTITIES}


def identity(name: str) -> dict[str, Any]:
    config = seaweed_identities(KEYS, "photos", "log")
    return next(i for i in config["identities"] if i["name"] == f"photofeed-{name}")


def test_presigned_uploads_can_write_originals_only() -> None:
    assert identity(S3_UPLOAD)["actions"] == [f"Write:photos/{ORIGINALS_PREFIX}*"]
    assert original_key(1, 2).startswith(ORIGINALS_PREFIX)


def test_the_app_and_tansu_are_confined_to_their_buckets() -> None:
    assert identity(S3_APP)["actions"] == ["Admin:photos"]
    assert all(a.endswith(":log") for a in identity(S3_TANSU)["actions"])
    assert not any(a.startswith("Admin") for a in identity(S3_TANSU)["actions"])


def test_there_is_no_anonymous_identity_and_each_has_its_keys() -> None:
    config = seaweed_identities(KEYS, "photos", "log")
    assert all(i["credentials"] for i in config["identities"])
    assert {i["credentials"][0]["accessKey"] for i in config["identities"]} == {
        k[0] for k in KEYS.values()
    }


def test_security_env_locks_every_internal_api_and_blanks_inherited_aws_keys() -> None:
    tls = TlsFiles(Path("/s/ca.crt"), Path("/s/tls.crt"), Path("/s/tls.key"))
    keys = {"signing": "a", "signing_read": "b", "filer_signing": "c", "filer_signing_read": "d"}
    env = seaweed_security_env(keys, tls)
    assert env["WEED_JWT_SIGNING_KEY"] == "a"
    assert env["WEED_JWT_SIGNING_READ_KEY"] == "b"
    assert env["WEED_JWT_FILER_SIGNING_KEY"] == "c"
    assert env["WEED_JWT_FILER_SIGNING_READ_KEY"] == "d"
    assert env["WEED_GRPC_CA"] == "/s/ca.crt"
    for component in ("MASTER", "VOLUME", "FILER", "S3", "ADMIN", "CLIENT"):
        assert env[f"WEED_GRPC_{component}_CERT"] == "/s/tls.crt"
        assert env[f"WEED_GRPC_{component}_KEY"] == "/s/tls.key"
    assert env["WEED_HTTPS_MASTER_CA"] == "/s/ca.crt"
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == ""


def test_seaweed_jwt_is_hs256_with_an_expiry() -> None:
    token = seaweed_jwt("k3y", {"fid": "3,01637037d6"}, now=1_000_000)
    header, body, signature = token.split(".")

    def decode(part: str) -> Any:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))

    assert decode(header) == {"alg": "HS256", "typ": "JWT"}
    assert decode(body) == {"fid": "3,01637037d6", "exp": 1_000_000 + SEAWEED_JWT_TTL_S}
    expected = hmac.new(b"k3y", f"{header}.{body}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)) == expected


# --- Settings: generated credentials -----------------------------------------------------------


def test_generated_secrets_are_private_and_stable(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    first = s.valkey_passwords()
    assert set(first) == set(VALKEY_ROLES)
    assert len(set(first.values())) == len(VALKEY_ROLES)
    assert s.valkey_passwords() == first
    assert stat.S_IMODE(s.secrets_dir.stat().st_mode) == 0o700
    for path in s.secrets_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_concurrent_first_uses_agree(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "x.json"
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: generated_secrets(path, ("a", "b"), _fresh), range(16)))
    assert all(r == results[0] for r in results)


def test_names_added_later_keep_the_existing_ones(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    first = generated_secrets(path, ("a",), _fresh)
    second = generated_secrets(path, ("a", "b"), _fresh)
    assert second["a"] == first["a"]
    assert "b" in second


def _fresh() -> str:
    import secrets

    return secrets.token_hex(8)


def test_redis_urls_carry_each_roles_password_but_the_address_does_not(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, redis_port=7000, redis_db=3)
    passwords = s.valkey_passwords()
    assert s.redis_for(GATEWAY) == f"redis://gateway:{passwords[GATEWAY]}@127.0.0.1:7000/3"
    assert s.redis == s.redis_for(ADMIN)
    assert s.with_(redis_role=WORKER).redis == s.redis_for(WORKER)
    assert s.redis_address == "redis://127.0.0.1:7000/3"


def test_a_configured_redis_url_serves_every_role_and_is_shown_without_password() -> None:
    s = Settings(redis_url="redis://app:s3cret@cache.internal:6380/2")
    assert s.redis_for(GATEWAY) == s.redis_for(WORKER) == s.redis
    assert s.redis_address == "redis://cache.internal:6380/2"


def test_local_s3_identities_are_generated_and_distinct(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    keys = {name: s.s3_keys(name) for name in S3_IDENTITIES}
    assert len({k for k, _ in keys.values()}) == len(S3_IDENTITIES)
    assert all(len(access) == 20 and len(secret) >= 40 for access, secret in keys.values())
    assert s.s3_keys(S3_APP) == keys[S3_APP]  # stable


def test_configured_app_keys_win_but_uploads_keep_their_own_identity_locally(
    tmp_path: Path,
) -> None:
    s = Settings(data_dir=tmp_path, s3_access_key="AK", s3_secret_key="SK")
    assert s.s3_keys(S3_APP) == ("AK", "SK")
    assert s.s3_keys(S3_UPLOAD) != ("AK", "SK")


def test_another_s3_uses_the_configured_keys_for_every_identity() -> None:
    s = Settings(s3_endpoint="s3.example.com", s3_access_key="AK", s3_secret_key="SK")
    assert s.s3_keys(S3_APP) == s.s3_keys(S3_UPLOAD) == s.s3_keys(S3_TANSU) == ("AK", "SK")
    scoped = s.with_(s3_upload_access_key="UK", s3_upload_secret_key="US")
    assert scoped.s3_keys(S3_UPLOAD) == ("UK", "US")


def test_another_s3_without_keys_is_refused() -> None:
    with pytest.raises(InsecureSettings, match="PHOTOFEED_S3_ACCESS_KEY"):
        Settings(s3_endpoint="s3.example.com").s3_keys()


@pytest.mark.parametrize(
    "keys", [RETIRED_S3_KEYS, ("mine", RETIRED_S3_KEYS[1])], ids=["pair", "secret"]
)
@pytest.mark.parametrize("identity", [S3_APP, S3_UPLOAD])
def test_the_retired_default_keys_are_refused(keys: tuple[str, str], identity: str) -> None:
    s = Settings(s3_access_key=keys[0], s3_secret_key=keys[1])
    with pytest.raises(InsecureSettings, match="retired"):
        s.with_(s3_endpoint="s3.example.com").s3_keys(identity)
    if identity == S3_APP:
        with pytest.raises(InsecureSettings, match="retired"):
            s.s3_keys(identity)


def test_the_stack_refuses_to_start_with_the_retired_keys(tmp_path: Path) -> None:
    retired = Settings(data_dir=tmp_path, s3_access_key=RETIRED_S3_KEYS[0],
                       s3_secret_key=RETIRED_S3_KEYS[1])  # fmt: skip
    with pytest.raises(InsecureSettings, match="retired"):
        Stack(retired)


def test_the_defaults_ship_no_credentials() -> None:
    s = Settings()
    assert (s.s3_access_key, s.s3_secret_key) == ("", "")
    assert s.redis_url == ""


# --- bind addresses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("example.com", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.5", "::"])
def test_the_stack_refuses_a_host_beyond_loopback(tmp_path: Path, host: str) -> None:
    with pytest.raises(StackError, match="PHOTOFEED_API_HOST"):
        Stack(Settings(data_dir=tmp_path, host=host))
    assert not (tmp_path / "secrets").exists()  # refused before anything was generated


def test_the_api_binds_loopback_by_default_and_a_wildcard_is_dialled_on_host() -> None:
    assert Settings().api_host == "127.0.0.1"
    exposed = Settings(api_host="0.0.0.0", gateway_port=8080)
    assert exposed.gateway_url == "http://127.0.0.1:8080"
    assert Settings(api_host="::1", gateway_port=1).gateway_url == "http://[::1]:1"


# --- Kafka SASL (another Kafka; the local Tansu cannot authenticate) ----------------------------


def test_the_local_tansu_gets_no_sasl_options() -> None:
    s = Settings(kafka_username="u", kafka_password="p")  # no kafka_bootstrap: local Tansu
    assert s.kafka_security() == {}
    assert "broker_credentials" not in faust_settings(s)


def test_a_kafka_with_a_user_gets_sasl_everywhere() -> None:
    s = Settings(kafka_bootstrap="k:9092", kafka_username="u", kafka_password="p")
    assert s.kafka_security() == {
        "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "u", "sasl.password": "p",
    }  # fmt: skip
    config = producer_config(s.bootstrap, security=s.kafka_security())
    assert config["sasl.username"] == "u"
    assert config["acks"] == "all"
    credentials = faust_settings(s)["broker_credentials"]
    assert (credentials.username, credentials.password) == ("u", "p")
    assert str(credentials.mechanism.value) == "SCRAM-SHA-512"
