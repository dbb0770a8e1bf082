"""The API against its own document: schemathesis (the `st` CLI) generates requests from the
live `/openapi.json` of the session's gateway and runs every check on every answer: no 5xx,
only documented statuses, content types and headers, bodies that match their schemas, valid
data accepted and invalid data rejected, 405 + Allow for undocumented methods, 401 without a
token, and the stateful phase following the document's links (test_openapi_links.py walks
every link on purpose).

Setup gives generation real material, so requests get past "no such id": accounts, a
published post (and its caption's tag), a comment, page cursors and a read-your-writes token,
offered through schemathesis dictionaries (most generated values are drawn from them, the rest
stay random).
Opaque tokens (cursors, Photofeed-Position) are valid only when handed out, which no schema can
say, so a schema-valid request may also be answered 400; 413 counts as a rejection of invalid
data. Bounded: MAX_EXAMPLES cases per operation and phase (PHOTOFEED_ST_EXAMPLES overrides),
STATEFUL_SCENARIOS link chains, one worker, a fixed seed (PHOTOFEED_ST_SEED) so a failure
reproduces: ~40 s of schemathesis on this machine. The log and a JUnit report stay in the
test's tmp dir.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from gateway.cursors import encode_cursor, encode_key_cursor, encode_search_cursor
from projections.ports import Position
from projections.search.logic import SearchCursor
from tests import samples
from tests.fixtures import bearer, eventually, unique

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = int(os.environ.get("PHOTOFEED_ST_EXAMPLES", "6"))
SEED = os.environ.get("PHOTOFEED_ST_SEED", "20261130")
STATEFUL_SCENARIOS, STATEFUL_STEPS = 40, 6  # link chains: register -> profile -> follow ...
MIN_CASES = 600  # a run that generated fewer tested next to nothing (setup or filter broken)
RUN_TIMEOUT_S = 240.0
PHASES = "examples,coverage,fuzzing,stateful"
WORKERS = "1"  # 2 hit a thread-safety bug (hypothesis parses lambdas concurrently on 3.11)
DRAWN = 0.7  # share of generated values taken from the dictionaries (the rest stay random)
# Statuses the checks accept: for valid data, 400 too (opaque tokens, see the docstring) and 410
# (a photo deleted during the run, as 404 would be); for invalid data, 411 and 413 too (a form
# without a length and a body over the limit are rejections).
POSITIVE_OK = ["2xx", "3xx", "400", "401", "403", "404", "409", "410", "429", "5xx"]
NEGATIVE_OK = ["400", "401", "403", "404", "405", "406", "409", "411", "413", "415", "422",
               "428", "429", "5xx"]  # fmt: skip


async def account(api: httpx.AsyncClient) -> tuple[str, str]:
    """A new account with a random password, logged in: (user_id, token)."""
    body = {"username": unique("st"), "password": uuid.uuid4().hex}
    created = await api.post("/users", json=body)
    assert created.status_code == 201, created.text
    session = await api.post("/sessions", json=body)
    assert session.status_code == 200, session.text
    return created.json()["user_id"], session.json()["token"]


async def published_post(api: httpx.AsyncClient, token: str) -> tuple[str, str, str]:
    """A direct upload of a real JPEG, polled until published: (photo_id, post_id, the
    status answer's read-your-writes token, after which the post can be read)."""
    photo = samples.jpeg(samples.scene(320, 240))
    sent = await api.post("/photos", headers=bearer(token), data={"caption": "schemathesis #st"},
                          files={"photo": ("st.jpg", photo, "image/jpeg")})  # fmt: skip
    assert sent.status_code == 202, sent.text
    photo_id: str = sent.json()["photo_id"]

    async def status() -> httpx.Response:
        return await api.get(f"/photos/{photo_id}/status", headers=bearer(token))

    done = await eventually(status, lambda r: r.json().get("status") != "processing", 60)
    assert done.json()["status"] == "published", done.text
    return photo_id, done.json()["post_id"], done.headers.get("Photofeed-Position", "")


def toml_config(values: dict[str, list[str]]) -> str:
    """The run's schemathesis.toml: check settings and the dictionaries of real values."""
    lines = [
        f"generation.max-examples = {MAX_EXAMPLES}",
        "[phases.stateful]",
        f"max-steps = {STATEFUL_STEPS}",
        "[phases.stateful.inference]",
        "algorithms = []",  # the document's own links only: they are what is under test
        "[phases.stateful.generation]",
        f"max-examples = {STATEFUL_SCENARIOS}",
        "[checks.positive_data_acceptance]",
        f"expected-statuses = {json.dumps(POSITIVE_OK)}",
        "[checks.negative_data_rejection]",
        f"expected-statuses = {json.dumps(NEGATIVE_OK)}",
    ]
    for name, items in values.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(items)}"]
    lines.append("[parameters]")
    for where, name in (("header.Photofeed-Position", "positions"), ("path.user_id", "users"),
                        ("path.post_id", "posts"), ("path.photo_id", "photos"),
                        ("path.comment_id", "comments"), ("query.cursor", "cursors"),
                        ("path.tag", "tags")):  # fmt: skip
        lines.append(f'"{where}" = {{ dictionary = "{name}", probability = {DRAWN} }}')
    for name in ("POST /follow/{user_id}", "DELETE /follow/{user_id}", "POST /blocks/{user_id}",
                 "DELETE /blocks/{user_id}", "POST /mutes/{user_id}",
                 "DELETE /mutes/{user_id}"):  # oneself: 422  # fmt: skip
        lines += [
            "[[operations]]",
            f'include-name = "{name}"',
            "[operations.checks.positive_data_acceptance]",
            f"expected-statuses = {json.dumps([*POSITIVE_OK, '422'])}",
        ]
    lines += [
        "[[operations]]",
        'include-name = "GET /search"',
        # over MAX_TERMS distinct terms is 422: a count no pattern can state exactly
        "[operations.checks.positive_data_acceptance]",
        f"expected-statuses = {json.dumps([*POSITIVE_OK, '422'])}",
        "[operations.parameters]",
        f'"query.cursor" = {{ dictionary = "search_cursors", probability = {DRAWN} }}',
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(RUN_TIMEOUT_S + 120)
async def test_the_gateway_conforms_to_its_openapi_document(
    api: httpx.AsyncClient, gateway: str, tmp_path: Path
) -> None:
    _, token = await account(api)  # passwords no example or generated value can match
    other, _ = await account(api)
    spare, spare_password = unique("st"), uuid.uuid4().hex
    created = await api.post("/users", json={"username": spare, "password": spare_password})
    assert created.status_code == 201, created.text
    spare_id = created.json()["user_id"]
    followed = await api.post(f"/follow/{other}", headers=bearer(token))
    assert followed.status_code == 204, followed.text
    photo_id, post_id, settled = await published_post(api, token)
    comment = await api.post(f"/posts/{post_id}/comments", json={"text": "st"},
                             headers={**bearer(token), "Photofeed-Position": settled})  # fmt: skip
    assert comment.status_code == 201, comment.text
    position = comment.headers.get("Photofeed-Position")
    assert position, "a write answers its read-your-writes token"
    now_ms = int(time.time() * 1000)
    values = {
        "positions": [position],
        "users": [other, spare_id],  # not me: following oneself is 422 (no schema says so)
        "posts": [post_id],
        "photos": [photo_id],
        "comments": [comment.json()["comment_id"]],
        "cursors": [str(encode_cursor(Position(now_ms, int(post_id)))),
                    str(encode_key_cursor((now_ms, "like:1")))],
        "search_cursors": [str(encode_search_cursor(SearchCursor(-1.0, now_ms, int(post_id))))],
        "tags": ["st", "ST", "#st"],  # the published post's caption tags it (any spelling)
    }  # fmt: skip
    config = tmp_path / "schemathesis.toml"
    config.write_text(toml_config(values))
    site = gateway.removesuffix("/api/v1")
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks",
           "PYTHONPATH": str(ROOT), "ST_API_BASE": gateway, "ST_TOKEN": token,
           "ST_SPARE_USER": spare, "ST_SPARE_PASS": spare_password}  # fmt: skip
    command = [sys.executable, "-m", "schemathesis.cli", "--no-color", "--config-file",
               str(config), "run", f"{site}/openapi.json", "--checks", "all", "--phases", PHASES,
               "--seed", SEED, "--workers", WORKERS, "--report", "junit",
               "--report-dir", str(tmp_path / "report")]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *command, cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        raise
    text = out.decode(errors="replace")
    (tmp_path / "schemathesis.log").write_text(text)
    assert proc.returncode == 0, (
        f"schemathesis failed (log: {tmp_path}/schemathesis.log):\n" + (text[-12_000:])
    )
    generated = re.search(r"(\d+) generated", text)
    assert generated is not None, text[-3000:]
    assert int(generated[1]) >= MIN_CASES, text[-3000:]
    served = (await api.get(f"{site}/openapi.json")).json()
    operations = sum(len(methods) - ("servers" in methods) for methods in served["paths"].values())
    assert f"Tested: {operations}\n" in text, text[-3000:]  # every operation, none skipped
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"{phase} (in" in text, text[-3000:]
    assert "401 Unauthorized (" not in text, text[-3000:]  # no operation saw only 401s
