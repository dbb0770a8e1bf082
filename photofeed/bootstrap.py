"""The composition root: builds clients from Settings and wires ports to adapters.

Nothing else constructs a client or reads configuration. Each entry point (worker, gateway,
replay) asks this module for its dependencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import faust
import orjson
import structlog
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from gateway.accounts import RedisAccountStore
from gateway.app import create_app
from gateway.asgi import Dispatcher
from gateway.consistency import Consistency, PositionsLog
from gateway.deps import GatewayDeps
from gateway.health import Check, Readiness
from gateway.idempotency import Idempotency
from gateway.idempotency_store import RedisIdempotencyStore
from gateway.lag_gauges import watch_lag
from gateway.outages import BROKER, S3, VALKEY
from gateway.passwords import PasswordPool
from gateway.ratelimit import Backoff, Limits, LoginGuard, Pseudonyms, RateLimiter
from gateway.sessions import LiveActorsLog, RedisSessions
from gateway.tokens import TokenSigner
from gateway.uploads import RedisUploadStore
from infra.clients import make_kafka_admin, make_minio, make_redis
from infra.kafka import KafkaEventLog
from infra.keystore import RedisKeyStore
from infra.objectstore import S3Store
from infra.readiness import announce_worker_ready, publish_worker_health
from infra.sealed_log import SealingLog
from infra.settings import GATEWAY, S3_UPLOAD, WORKER, Settings
from infra.topics import FOLLOWS, POSTS, USERS
from infra.worker_ids import lease_worker_id, lease_worker_id_now
from photofeed.stores import Stores, cassandra, make_stores, search_versions, writer_factory
from projections.backends.functions import check_libraries, check_libraries_now
from projections.backends.positions import RedisAppliedOffsets, RedisSettledUploads
from projections.erasure.redis import ErasureFacts
from projections.feeds.ports import FeedStore
from projections.graph.ports import GraphReader
from projections.groups import Group, group_events
from projections.photos.ports import PhotoStore
from projections.photos.redis import RedisPhotos
from projections.versions.redis import RedisVersions
from schemas.codec import default_codec
from schemas.ids import SnowflakeGenerator
from streams.app import WorkerDeps
from streams.app import create_app as create_faust_app
from streams.blocklist import RedisBlocklist
from streams.celebrity import CelebrityWatcher, RedisClaims
from streams.erasure import DurableFacts, ErasureWorkflow, read_durable_facts
from streams.media.imaging import configure_libvips
from streams.media_agent import MediaAgent, MediaLimits
from streams.media_janitor import MediaJanitor
from streams.opener import Opener
from streams.planners import FactSources
from streams.planners import planner as group_planner
from streams.settled_uploads import SettledUploadsLog
from streams.sink import Planner, ProjectionSink
from streams.upload_cleanup import CleanupReport, clean_abandoned_uploads

log = structlog.get_logger("photofeed")


def s3_store(settings: Settings, timeout_s: float | None = None) -> S3Store:
    """The bucket through the app's identity; presigned uploads are signed with the upload
    identity, which can write originals (o/) only. `timeout_s`: make_minio's bound per call."""
    scheme = "https" if settings.s3_secure else "http"
    upload_key, upload_secret = settings.s3_keys(S3_UPLOAD)
    return S3Store(
        make_minio(settings, timeout_s=timeout_s), settings.s3_bucket,
        endpoint_url=f"{scheme}://{settings.s3}",
        public_url=settings.s3_public, region=settings.s3_region,
        access_key=upload_key, secret_key=upload_secret,
    )  # fmt: skip


class Active:
    """The reader of a group's version serving reads now: the version is asked on every call,
    since a replay may swap it at any time."""

    def __init__(self, stores: Stores) -> None:
        self._stores = stores
        self._versions = RedisVersions(stores.redis)

    async def graph(self) -> GraphReader:
        return self._stores.graph_at(await self._versions.active(Group.GRAPH))

    async def feeds(self) -> FeedStore:
        return self._stores.feeds_at(await self._versions.active(Group.FEEDS))


def active_photos(redis: Redis) -> Callable[[], Awaitable[PhotoStore]]:
    """Like Active, the photos group's version serving reads now; it is always in Valkey
    (photofeed/stores.py), so the media steps and the upload cleanup need no Stores."""
    versions = RedisVersions(redis)

    async def photos() -> PhotoStore:
        return RedisPhotos(redis, await versions.active(Group.PHOTOS))

    return photos


def planner(stores: Stores, group: Group) -> Planner:
    """The planner of `group` (streams/planners.py), its facts read from the active versions."""
    active = Active(stores)
    facts = FactSources(active.graph, active.feeds, RedisKeyStore(stores.redis))
    return group_planner(group, facts)


def sink_order() -> list[Group]:
    """The groups in the order their sinks apply each batch: the registry's, with the photos
    group last, so a photo's status says `published` only once its post can be read and
    commented on (the other groups applied the same PostPublished first): a client polling the
    status never gets a post it cannot use yet."""
    return sorted(group_events(), key=lambda g: g == Group.PHOTOS)


def sinks(stores: Stores) -> list[ProjectionSink]:
    versions = RedisVersions(stores.redis)
    return [
        ProjectionSink(g, versions, writer_factory(stores, g), planner(stores, g))
        for g in sink_order()
    ]


def media_agent(settings: Settings, redis: Redis, ids: SnowflakeGenerator) -> MediaAgent:
    limits = MediaLimits(
        settings.max_upload_bytes, settings.max_pixels, settings.blocklist_max_distance
    )
    return MediaAgent(
        s3_store(settings), active_photos(redis), RedisBlocklist(redis), ids, limits,
        RedisKeyStore(redis),
    )  # fmt: skip


async def cleanup_uploads(
    settings: Settings, redis: Redis, older_than_s: int | None = None
) -> CleanupReport:
    photos = active_photos(redis)

    async def known(photo_id: int) -> bool:
        return await (await photos()).photo(photo_id) is not None

    ttl = settings.upload_session_ttl_s if older_than_s is None else older_than_s
    return await clean_abandoned_uploads(s3_store(settings), known, ttl)


def erasure_workflow(settings: Settings, stores: Stores) -> ErasureWorkflow:
    redis = stores.redis
    versions = RedisVersions(redis)
    cass = stores.cassandra
    erase_cassandra = None
    if cass is not None:
        from projections.erasure.cassandra import CassandraKeyspaces, erase_user

        async def erase_cassandra(user: int, facts: ErasureFacts) -> None:
            keyspaces = CassandraKeyspaces.at(
                await versions.targets(Group.GRAPH), await versions.targets(Group.FEEDS),
                await versions.targets(Group.ENGAGEMENT),
            )  # fmt: skip
            await erase_user(cass.store, keyspaces, user, facts)

    durable_facts = None
    if cass is not None:
        active = Active(stores)

        async def durable_facts(user: int) -> DurableFacts:
            return await read_durable_facts(await active.graph(), await active.feeds(), user)

    volumes = None
    if not settings.s3_endpoint:  # the local SeaweedFS: its master and filer APIs as well
        from infra.objectstore import SeaweedAdmin
        from infra.stack import seaweed_access

        access = seaweed_access(settings)  # master (HTTPS, mutual TLS) and filer (JWT)
        volumes = SeaweedAdmin(
            access.master_url,
            access.filer_url,
            settings.s3_bucket,
            tls=access.ssl_context(),
            filer_token=access.filer_jwt,
            volume_token=lambda fid: access.volume_jwt(fid, write=True),
        )

    return ErasureWorkflow(
        redis, versions, RedisKeyStore(redis), RedisAccountStore(redis), stores.search,
        s3_store(settings), photos=stores.photos_at, uploads=RedisUploadStore(redis),
        volumes=volumes, cassandra=erase_cassandra, durable_facts=durable_facts,
        pause_s=settings.erasure_step_pause_s,
    )  # fmt: skip


def build_worker(settings: Settings) -> faust.App:
    settings = settings.with_(redis_role=WORKER)  # Valkey: the worker's ACL user
    with SyncRedis.from_url(settings.redis) as r:
        check_libraries_now(r)  # refuse stale Valkey Functions libraries before any write
    configure_libvips(concurrency=1)  # one libvips thread per process: scale with processes
    stores = make_stores(settings)
    redis = stores.redis
    pid = os.getpid()
    # readiness is announced for the process group: the pid `photofeed up` knows, whether the
    # worker runs alone or as the child of its supervisor
    group = os.getpgid(0)

    async def announce(partitions: int) -> None:
        await announce_worker_ready(redis, group, partitions)
        log.info("worker_ready", partitions=partitions, pid=pid, group=group)

    log_ = KafkaEventLog(settings.bootstrap, default_codec())

    async def housekeeping() -> None:
        await cleanup_uploads(settings, redis)

    janitor = MediaJanitor(s3_store(settings), active_photos(redis))
    ids = SnowflakeGenerator(lease_worker_id_now(settings))  # one worker id per process
    watcher = CelebrityWatcher(
        Active(stores).graph, RedisClaims(redis).claim, log_, ids, settings.celebrity_threshold
    )
    appends = settings.worker_appends  # a projection-only group appends nothing to the log
    erasures = erasure_workflow(settings, stores)
    after_batch = {FOLLOWS.name: watcher.after_follows, POSTS.name: janitor.after_posts,
                   USERS.name: erasures.after_users}  # fmt: skip
    deps = WorkerDeps(
        codec=default_codec(), sinks=sinks(stores), on_assigned=announce,
        media=media_agent(settings, redis, ids) if appends else None,
        log=SettledUploadsLog(log_, RedisSettledUploads(redis)),  # the media agent's results
        applied=RedisAppliedOffsets(redis),  # read-your-writes: what each group applied
        housekeeping=housekeeping, after_batch=after_batch if appends else {},
        background={"erasures": erasures.run_pending} if appends else {},
        open_events=Opener(RedisKeyStore(redis), strict=True).open,
        publish_health=lambda snapshot: publish_worker_health(redis, pid, snapshot),
    )  # fmt: skip
    return create_faust_app(settings, deps)


def _gateway_checks(settings: Settings, redis: Redis) -> dict[str, Check]:
    """/readyz's checks (each raises when its dependency does not answer): Valkey PING, a
    broker metadata request, the bucket's existence on S3. The clients' own timeouts are the
    dependency timeout, so a blocked thread ends about when the check gives up."""
    timeout_s = settings.dependency_timeout_s
    admin = make_kafka_admin(settings, timeout_s)
    minio = make_minio(settings, timeout_s=timeout_s)

    async def valkey() -> None:
        await redis.ping()

    async def broker() -> None:
        await asyncio.to_thread(admin.list_topics, timeout=timeout_s)

    async def s3() -> None:
        if not await asyncio.to_thread(minio.bucket_exists, settings.s3_bucket):
            raise LookupError(f"the bucket {settings.s3_bucket!r} does not exist")

    return {VALKEY: valkey, BROKER: broker, S3: s3}


def build_gateway(settings: Settings) -> Dispatcher:
    """The gateway app; its lifespan builds the clients, each bounded by
    `settings.dependency_timeout_s` (an outage is a 503 within about that long), and runs the
    readiness monitor that keeps /healthz's dependency states fresh."""
    settings = settings.with_(redis_role=GATEWAY)  # Valkey: the gateway's ACL user
    secret = settings.secret()
    timeout_s = settings.dependency_timeout_s

    @contextlib.asynccontextmanager
    async def lifespan(app: Dispatcher) -> AsyncIterator[None]:
        redis = make_redis(settings, timeout_s=timeout_s)
        stores = Stores(redis, search_versions(settings), cassandra(settings))
        log = KafkaEventLog(settings.bootstrap, default_codec(), delivery_timeout_s=timeout_s)
        store = s3_store(settings, timeout_s)  # presigned uploads: o/ only
        await asyncio.to_thread(store.ensure_bucket, settings.web_origin_list)
        keys = RedisKeyStore(redis)
        await check_libraries(redis)  # refuse stale Valkey Functions libraries at start-up
        readiness = Readiness(_gateway_checks(settings, redis), app.dependencies, timeout_s)
        sessions = RedisSessions(redis, time.time)
        pseudonyms = Pseudonyms(secret.encode())
        limits = Limits(
            login=LoginGuard(
                redis, pseudonyms,
                per_user=Backoff(settings.login_free_failures, settings.login_backoff_base_s,
                                 settings.login_backoff_max_s),
                per_address=Backoff(settings.login_address_free_failures,
                                    settings.login_backoff_base_s, settings.login_backoff_max_s),
            ),
            register=RateLimiter(redis, "register", settings.register_rate_per_hour, 3600,
                                 pseudonyms),
            follow=RateLimiter(redis, "follow", settings.follow_rate_per_minute, 60),
            like=RateLimiter(redis, "like", settings.like_rate_per_minute, 60),
            comment=RateLimiter(redis, "comment", settings.comment_rate_per_minute, 60),
        )  # fmt: skip
        passwords = PasswordPool(settings.password_hash_threads, settings.password_hash_queue)
        app.state.deps = GatewayDeps(
            settings=settings,
            log=PositionsLog(LiveActorsLog(SealingLog(log, keys), sessions)),  # + read-your-writes
            accounts=RedisAccountStore(redis),
            tokens=TokenSigner(secret, settings.token_ttl_s),
            ids=SnowflakeGenerator(await lease_worker_id(redis)),
            versions=RedisVersions(redis),
            graph_at=stores.graph_at,
            photos_at=stores.photos_at,
            feeds_at=stores.feeds_at,
            engagement_at=stores.engagement_at,
            search_at=stores.search.at,
            pages_at=stores.pages_at,
            url_base=orjson.dumps(store.public_url("")).strip(b'"'),  # JSON-escaped
            uploads=RedisUploadStore(redis),
            store=store,
            upload_limit=RateLimiter(redis, "upload", settings.upload_rate_per_minute, 60),
            sessions=sessions,
            passwords=passwords,
            limits=limits,
            readiness=readiness,
            idempotency=Idempotency(
                RedisIdempotencyStore(redis, keys, settings.idempotency_ttl_s), secret.encode()
            ),
            consistency=Consistency(
                RedisAppliedOffsets(redis), RedisSettledUploads(redis), settings.consistency_wait_s
            ),
        )
        monitor = asyncio.create_task(readiness.monitor())
        lag = asyncio.create_task(watch_lag(settings, app.metrics))  # /metrics' lag gauges
        try:
            yield
        finally:
            monitor.cancel()
            lag.cancel()
            passwords.close()
            log.close()
            await redis.aclose()

    return create_app(None, lifespan)
