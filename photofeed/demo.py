"""`photofeed demo`: sample users, follows, photos, likes and comments, loaded through the real
HTTP API, so a first look at the system shows a living feed.

Running it again adds nothing: accounts that exist are logged into, follows and likes are
idempotent, an upload is retried with the same Idempotency-Key and skipped when its author
already shows enough posts, and a user comments on a post at most once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import typer

from photofeed.demo_images import demo_jpeg

PASSWORD = "photofeed demo"  # every demo account's; printed at the end
NAMES = ("ana", "bruno", "chloe", "dmitri", "emeka", "fatima", "gus", "hana", "ines", "jonas",
         "kofi", "lena", "mateo", "nia", "oskar", "priya", "quinn", "rosa", "sami", "tomas",
         "uma", "vera", "wen", "yusuf", "zoe")  # fmt: skip
FOLLOWS_EACH = 10  # accounts each demo user follows (all of them in a small demo)
PUBLISH_WAIT_S = 120.0  # bound on waiting for the worker (profiles, then the uploads)
MAX_RETRY_AFTER_S = 65.0  # a rate limit asking for a longer wait stops the demo instead
SUBJECTS = ("Golden hour", "Morning light", "Quiet evening", "Sunday walk", "First light",
            "Last light", "After the rain", "Long shadows", "Blue hour", "Late summer")  # fmt: skip
PLACES = ("over the harbour", "in the hills", "at the lake", "on the ridge", "by the sea",
          "above the old town", "in the valley", "from the rooftop")  # fmt: skip
TAGS = ("sunset", "sunrise", "landscape", "hills", "sky", "travel", "nature", "colour",
        "photography", "weekend", "calm", "light")  # fmt: skip
COMMENTS = ("Beautiful colours!", "Wow, where is this?", "Love the light here", "Stunning 😍",
            "This is my new wallpaper", "Those hills!", "So calm.", "Great shot!")  # fmt: skip


class DemoError(RuntimeError):
    """The API refused the demo (the message says why and what to do)."""


@dataclass
class Account:
    name: str
    user_id: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Report:
    accounts: list[Account] = field(default_factory=list)
    created: int = 0  # accounts registered by this run
    uploaded: int = 0  # photos sent by this run
    published: int = 0  # posts of the demo users now visible
    likes: int = 0
    comments: int = 0  # comments added by this run


def usernames(count: int, prefix: str) -> list[str]:
    """`count` distinct valid usernames: prefix + name (+ a round number past the name list)."""
    return [f"{prefix}{NAMES[i % len(NAMES)]}{i // len(NAMES) or ''}" for i in range(count)]


def caption(seed: int) -> tuple[str, list[str]]:
    """A caption ending in #tags, and those tags."""
    rng = random.Random(seed)
    tags = rng.sample(TAGS, 2)
    text = f"{rng.choice(SUBJECTS)} {rng.choice(PLACES)} " + " ".join(f"#{t}" for t in tags)
    return text, tags


def run_demo(
    client: httpx.Client,
    users: int,
    photos: int,
    prefix: str = "demo_",
    say: Callable[[str], None] = print,
) -> Report:
    """Load the demo through `client` (base URL: the API root); see the module docstring."""
    report = Report()
    existing = _existing(client, prefix)
    for name in usernames(users, prefix):
        account, created = _account(client, name, name in existing)
        report.accounts.append(account)
        report.created += created
    accounts = report.accounts
    say(f"{len(accounts)} accounts ({report.created} new)")
    for i, account in enumerate(accounts):
        for k in range(1, min(FOLLOWS_EACH, len(accounts) - 1) + 1):
            other = accounts[(i + k) % len(accounts)]
            _call(client, "POST", f"/follow/{other.user_id}", account.auth, expect=(204,))
    say("follows done")
    _wait_projected(client, accounts)
    pending = _upload(client, accounts, photos, report)
    say(f"{report.uploaded} photos uploaded; waiting for the worker to publish them")
    _wait_published(client, pending)
    posts = _posts(client, accounts)
    report.published = len(posts)
    rng = random.Random(7)  # the same likes and comments on every run
    for post_id, author in posts:
        for account in accounts:
            if account.user_id == author:
                continue
            if rng.random() < 0.5:
                _call(client, "POST", f"/likes/{post_id}", account.auth, expect=(204,))
                report.likes += 1
            if rng.random() < 0.2:
                report.comments += _comment(client, account, post_id, rng.choice(COMMENTS))
    say(f"{report.published} posts, {report.likes} likes, {report.comments} new comments")
    return report


def _existing(client: httpx.Client, prefix: str) -> set[str]:
    """Usernames starting with `prefix` that search already knows (so they are logged into,
    not registered again: registrations are rate-limited per address)."""
    found: set[str] = set()
    cursor = None
    while True:
        params = {"q": f"@{prefix}", "limit": "100", **({"cursor": cursor} if cursor else {})}
        page = _call(client, "GET", "/search", params=params, expect=(200, 422))
        if "users" not in page:
            return found
        found |= {u["username"] for u in page["users"]}
        cursor = page.get("next_cursor")
        if not page.get("has_more") or not cursor:
            return found


def _account(client: httpx.Client, name: str, exists: bool) -> tuple[Account, bool]:
    """Log in (registering first unless the account is known to exist); (account, created)."""
    created = False
    if not exists:
        body = {"username": name, "password": PASSWORD}
        answer = _call(client, "POST", "/users", json=body, expect=(201, 409))
        created = "user_id" in answer
    session = _call(
        client, "POST", "/sessions", json={"username": name, "password": PASSWORD},
        expect=(200, 401),
    )  # fmt: skip
    if "token" not in session:
        raise DemoError(f"{name} exists with another password: pick another --prefix")
    return Account(name, str(session["user_id"]), session["token"]), created


def _upload(
    client: httpx.Client, accounts: list[Account], photos: int, report: Report
) -> list[tuple[Account, str]]:
    """Upload photo n as accounts[n % len]; skip an author whose grid already shows their
    share. Return (owner, photo id) of what was sent."""
    sent = []
    for i, account in enumerate(accounts):
        mine = list(range(i, photos, len(accounts)))
        have = _call(client, "GET", f"/users/{account.user_id}/posts", params={"limit": "100"})
        for n in mine[len(have.get("posts", [])) :]:
            text, tags = caption(n)
            answer = _call(
                client, "POST", "/photos", {**account.auth, "Idempotency-Key": f"demo-photo-{n}"},
                files={"photo": (f"demo-{n}.jpg", demo_jpeg(n), "image/jpeg")},
                data={"caption": text, "tags": " ".join(tags)}, expect=(202,),
            )  # fmt: skip
            sent.append((account, str(answer["photo_id"])))
            report.uploaded += 1
    return sent


def _wait_projected(client: httpx.Client, accounts: list[Account]) -> None:
    """Until every account has a profile (the worker projected its registration)."""
    deadline = time.monotonic() + PUBLISH_WAIT_S
    for account in accounts:
        while "user_id" not in _call(client, "GET", f"/users/{account.user_id}", expect=(200, 404)):
            if time.monotonic() > deadline:
                raise DemoError(f"{account.name} has no profile yet: is the worker running?")
            time.sleep(0.2)


def _wait_published(client: httpx.Client, pending: list[tuple[Account, str]]) -> None:
    deadline = time.monotonic() + PUBLISH_WAIT_S
    waiting = list(pending)
    while waiting:
        account, photo_id = waiting[0]
        status = _call(client, "GET", f"/photos/{photo_id}/status", account.auth)
        if status.get("status") in {"published", "rejected", "deleted"}:
            waiting.pop(0)
        elif time.monotonic() > deadline:
            raise DemoError(f"{len(waiting)} photos still processing: is the worker running?")
        else:
            time.sleep(0.2)


def _posts(client: httpx.Client, accounts: list[Account]) -> list[tuple[str, str]]:
    """(post id, author id) of every demo user's posts."""
    out = []
    for account in accounts:
        page = _call(client, "GET", f"/users/{account.user_id}/posts", params={"limit": "100"})
        out += [(str(p["post_id"]), account.user_id) for p in page.get("posts", [])]
    return out


def _comment(client: httpx.Client, account: Account, post_id: str, text: str) -> int:
    """Comment once per (user, post): 1 when added now, 0 when already there."""
    page = _call(client, "GET", f"/posts/{post_id}/comments", params={"limit": "100"})
    if any(c["user"]["user_id"] == account.user_id for c in page.get("comments", [])):
        return 0
    key = {"Idempotency-Key": f"demo-comment-{post_id}-{account.user_id}"}
    _call(client, "POST", f"/posts/{post_id}/comments", {**account.auth, **key},
          json={"text": text}, expect=(201,))  # fmt: skip
    return 1


def _call(
    client: httpx.Client,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    expect: tuple[int, ...] = (200,),
    **kwargs: Any,
) -> dict[str, Any]:
    """The JSON answer ({} for none); a 429 is waited out (Retry-After) when short, anything
    unexpected raises DemoError."""
    while True:
        answer = client.request(method, path, headers=headers, **kwargs)
        if answer.status_code == 429:
            wait = float(answer.headers.get("Retry-After", "1"))
            if wait > MAX_RETRY_AFTER_S:
                raise DemoError(f"{method} {path}: rate limited for {wait:.0f} s: {answer.text}")
            time.sleep(wait)
            continue
        if answer.status_code not in expect:
            raise DemoError(f"{method} {path} answered {answer.status_code}: {answer.text[:300]}")
        body: dict[str, Any] = answer.json() if answer.content else {}
        return body


def demo(
    users: int = typer.Option(12, min=2, max=200, help="Demo accounts."),
    photos: int = typer.Option(30, min=0, max=1000, help="Photos, spread over the accounts."),
    prefix: str = typer.Option("demo_", help="Username prefix of the demo accounts."),
    api: str = typer.Option(None, help="API root (default: this machine's gateway)."),
) -> None:
    """Load sample users, photos, likes and comments through the API (safe to run again).

    The accounts follow each other and post generated photos with #tagged captions; they like
    and comment on each other's posts. A second run adds nothing twice."""
    from rich.console import Console
    from rich.table import Table

    from infra.logs import configure_logging
    from infra.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    console = Console()
    root = api or f"{settings.gateway_url}/api/v1"
    try:
        with httpx.Client(base_url=root, timeout=30) as client:
            report = run_demo(client, users, photos, prefix, say=console.print)
    except (DemoError, httpx.HTTPError) as exc:
        console.print(f"[red]demo stopped:[/] {exc}")
        raise typer.Exit(1) from None
    table = Table("username", "user id", title="demo accounts")
    for account in report.accounts:
        table.add_row(account.name, account.user_id)
    console.print(table)
    console.print(
        f"log in as any of them with the password [bold]{PASSWORD}[/]\n"
        f"web: {root.removesuffix('/api/v1')}/   API: {root}   "
        f"try: curl -s '{root}/search?q=%23sunset'"
    )
