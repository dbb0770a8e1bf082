"""Every link of `/openapi.json`, followed on the live gateway: real answers of the source
operations feed the link's runtime expressions, and the target operation must succeed with
them. Schemathesis's stateful phase follows links at random; this walks each one, so a link
that names a wrong field or leads nowhere fails here."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from gateway.openapi_schemas import EXAMPLES
from tests import samples
from tests.fixtures import bearer, eventually, register, unique

pytestmark = pytest.mark.stack
Doc = dict[str, Any]


class Walker:
    """Sends source requests, follows every link of their answers, records what it followed.
    As a client should, it sends the newest Photofeed-Position it received with every request
    (each token covers the ones sent with its request), so every read sees the writes before."""

    def __init__(self, api: httpx.AsyncClient, site: httpx.AsyncClient, doc: Doc, token: str):
        self.api, self.site, self.doc, self.token = api, site, doc, token
        self.ops = {op["operationId"]: (method.upper(), path, op)
                    for path, item in doc["paths"].items()
                    for method, op in item.items() if method != "servers"}  # fmt: skip
        self.followed: set[tuple[str, str]] = set()
        self.position = ""

    async def call(self, operation_id: str, params: dict[str, str],
                   body: Any = None) -> httpx.Response:  # fmt: skip
        method, path, op = self.ops[operation_id]
        where = {p["name"]: p["in"] for p in op["parameters"]}
        url = re.sub(r"\{(\w+)\}", lambda m: params[m[1]], path)
        query = {k: v for k, v in params.items() if where.get(k) == "query"}
        headers = {k: v for k, v in params.items() if where.get(k) == "header"}
        headers |= bearer(self.token)
        if self.position:
            headers.setdefault("Photofeed-Position", self.position)
        if body is None and "requestBody" in op and op["requestBody"]["required"]:
            schema = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            body = EXAMPLES[schema.rsplit("/", 1)[-1]]
        answer = await self.api.request(method, url, params=query, headers=headers, json=body)
        self.saw(answer)
        return answer

    def saw(self, answer: httpx.Response) -> None:
        self.position = answer.headers.get("Photofeed-Position", self.position)

    async def follow(self, operation_id: str, request: dict[str, str], answer: httpx.Response,
                     skip: frozenset[str] = frozenset()) -> dict[str, httpx.Response]:  # fmt: skip
        """Follow every link of `answer` (to `operation_id` called with `request`) except the
        names in `skip`; each target must answer 2xx or 3xx. Returns the answers by link name."""
        _, _, op = self.ops[operation_id]
        links = op["responses"][str(answer.status_code)].get("links", {})
        out = {}
        for name, link in links.items():
            try:
                params = {k.split(".", 1)[-1]: self.resolve(v, request, answer)
                          for k, v in link["parameters"].items()}  # fmt: skip
            except (KeyError, IndexError):
                continue  # the answer holds no such value (an empty page): nothing to follow
            if name in skip or params.get("cursor", "") is None:
                continue  # the last page links nowhere
            target = await self.call(link["operationId"], {k: str(v) for k, v in params.items()})
            assert target.status_code < 400, (operation_id, name, params, target.text)
            self.followed.add((operation_id, name))
            out[name] = target
        return out

    @staticmethod
    def resolve(expression: str, request: dict[str, str], answer: httpx.Response) -> Any:
        """`$response.body#/a/0/b`, `$response.header.X`, `$request.path.x`, `$request.query.x`."""
        if expression.startswith("$response.body#/"):
            value: Any = answer.json()
            for part in expression.removeprefix("$response.body#/").split("/"):
                value = value[int(part)] if isinstance(value, list) else value[part]
            return value
        if expression.startswith("$response.header."):
            return answer.headers[expression.removeprefix("$response.header.")]
        return request[expression.rsplit(".", 1)[-1]]

    def all_links(self) -> set[tuple[str, str]]:
        ops = [op for _, _, op in self.ops.values()]
        return {(op["operationId"], name) for op in ops for answer in op["responses"].values()
                for name in answer.get("links", {})}  # fmt: skip


# (operation, link) pairs no answer here reaches: a second page exists only for the comments
# (the other NextPage links come from the same code: gateway/openapi.py next_page); one's own
# posts are not in one's home feed (its GetPost link is the same as profile_grid's)
PAGED = ("followers", "following", "home_feed", "profile_grid", "search", "list_notifications",
         "list_mutes", "list_blocks", "tag_posts", "list_follow_requests")  # fmt: skip
NOT_WALKED = {("home_feed", "GetPost")} | {(o, "NextPage") for o in PAGED}


async def test_every_link_leads_to_a_successful_call(api: httpx.AsyncClient, gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway.removesuffix("/api/v1")) as site:
        doc = (await site.get("/openapi.json")).json()
        body = {"username": unique("ln"), "password": uuid.uuid4().hex}
        registered = await api.post("/users", json=body)
        assert registered.status_code == 201, registered.text
        session = await api.post("/sessions", json=body)
        me = session.json()["user_id"]
        walk = Walker(api, site, doc, session.json()["token"])
        walk.saw(registered)
        # someone else's registration: profile, lists, follow and unfollow (not oneself's)
        other = await api.post("/users", json={"username": unique("ln"), "password": "x" * 12})
        walk.saw(other)
        them = other.json()["user_id"]
        await walk.follow("register", {}, other)
        await walk.follow("create_session", {}, session)
        await walk.follow(
            "get_user", {"user_id": them}, await walk.call("get_user", {"user_id": them})
        )
        mine = await walk.call("get_user", {"user_id": me})
        await walk.follow("get_user", {"user_id": me}, mine, skip=frozenset({"Follow", "Unfollow"}))
        assert (await walk.call("follow", {"user_id": them})).status_code == 204
        # a post of mine: direct upload -> status -> post -> comments, likes, author
        photo = samples.jpeg(samples.scene(200, 150))
        sent = await api.post("/photos", headers=bearer(walk.token), data={"tags": "lnk"},
                              files={"photo": ("l.jpg", photo, "image/jpeg")})  # fmt: skip
        assert sent.status_code == 202, sent.text
        walk.saw(sent)
        await walk.follow("create_photo", {}, sent)
        photo_id = sent.json()["photo_id"]
        status = await eventually(lambda: walk.call("photo_status", {"photo_id": photo_id}),
                                  lambda r: r.json().get("status") == "published", 60)  # fmt: skip
        await walk.follow("photo_status", {"photo_id": photo_id}, status)
        post_id = status.json()["post_id"]
        from_post = await walk.follow(
            "get_post", {"post_id": post_id}, await walk.call("get_post", {"post_id": post_id})
        )
        await walk.follow("add_comment", {"post_id": post_id}, from_post["AddComment"])
        for text in ("two", "three"):  # the linked one was deleted by its own Delete link
            await walk.call("add_comment", {"post_id": post_id}, {"text": text})
        assert (await walk.call("mute", {"user_id": them})).status_code == 204  # for list_mutes
        # first pages (one item each) and their links
        for operation_id, params in (
            ("list_comments", {"post_id": post_id}), ("profile_grid", {"user_id": me}),
            ("followers", {"user_id": them}), ("following", {"user_id": me}),
            ("home_feed", {}), ("search", {"q": "#lnk"}), ("list_notifications", {}),
            ("tag_posts", {"tag": "lnk"}), ("list_mutes", {}),
        ):  # fmt: skip
            page = await walk.call(operation_id, {**params, "limit": "1"})
            assert page.status_code == 200, (operation_id, page.text)
            await walk.follow(operation_id, params, page)
        # a private account's requests: the first page's links approve one, then reject another
        assert (await walk.call("update_me", {}, {"private": True})).status_code == 204
        for skip in ("Reject", "Approve"):
            asker, asker_token = await register(api)
            asked = await api.post(f"/follow/{me}", headers={
                **bearer(asker_token), "Photofeed-Position": walk.position})  # fmt: skip
            assert asked.status_code == 202, asked.text
            walk.saw(asked)
            page = await walk.call("list_follow_requests", {"limit": "1"})
            assert [u["user_id"] for u in page.json()["users"]] == [asker]
            await walk.follow("list_follow_requests", {}, page, skip=frozenset({skip}))
        # a presigned upload: the bytes PUT to S3, then the ticket's link completes it
        ticket = await walk.call("create_photo", {}, {"filename": "p.jpg", "size_bytes": 10,
                                                      "content_type": "image/jpeg"})  # fmt: skip
        assert ticket.status_code == 200, ticket.text
        put = await site.put(ticket.json()["upload_url"], content=b"0123456789",
                             headers=ticket.json()["upload_headers"])  # fmt: skip
        assert put.status_code == 200, put.text
        done = await walk.follow("create_photo", {}, ticket)
        await walk.follow("complete_upload", {"photo_id": ticket.json()["photo_id"]},
                          done["Complete"])  # fmt: skip
        # an avatar: a direct upload, then its status (the link's target)
        avatar = await api.post("/users/me/avatar", headers=bearer(walk.token),
                                files={"photo": ("a.jpg", photo, "image/jpeg")})  # fmt: skip
        assert avatar.status_code == 202, avatar.text
        walk.saw(avatar)
        await walk.follow("upload_avatar", {}, avatar)
        new_password = {"current_password": body["password"], "new_password": uuid.uuid4().hex}
        changed = await walk.call("change_password", {}, new_password)
        await walk.follow("change_password", {}, changed)
    missing = walk.all_links() - walk.followed
    assert missing == NOT_WALKED, sorted(missing ^ NOT_WALKED)
