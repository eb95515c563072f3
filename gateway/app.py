"""The gateway process, assembled: store, read model, platform client, broker session,
check-in, forwarder, console and metrics, each given what it needs when it is made.

A scan's path: mqtt_ingest.MqttIngest (checked by firmware/protocol.py) → checkin.CheckIn
(status_cache → platform; the verdict back through replies.KioskReplies; the scan into
store.Store's group commit; the ack) → forwarder.Forwarder uploads it to the platform.
Metrics and the console observe check-in's events (gateway/events.py) and read through
the read model (gateway/read_model.py).

`running(config)` builds all of it, runs its background tasks under one supervisor and
closes everything in reverse order; `create_app(config)` serves it with FastAPI. A
background task that ends is logged with its traceback and reported to `on_death`
(python -m gateway exits non-zero, for systemd to restart it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from firmware import mqtt_client, startup
from firmware.protocol import red_list_topic, trust_list_topic
from firmware.supervise import Supervisor, TaskDied
from gateway import auth, console, duty_routes, metrics, registration_api, release, web_security
from gateway.checkin import CheckIn
from gateway.config import GatewayConfig
from gateway.console import Console
from gateway.events import Observers, ReplayFlood
from gateway.fair_ingest import FairIngest
from gateway.forwarder import Forwarder
from gateway.kiosk_reports import KioskReports
from gateway.kiosk_trust import GatewayLists, KioskRegister, KioskTrust
from gateway.metrics import GatewayMetrics
from gateway.mqtt_ingest import MqttIngest
from gateway.personal import Pseudonymiser
from gateway.platform import HttpPlatform, Platform
from gateway.policy_publisher import PolicyPublisher
from gateway.read_model import ReadModel
from gateway.registration import Registrar
from gateway.replies import KioskReplies
from gateway.settling import Settling
from gateway.status_cache import StatusCache
from gateway.store import COMPONENT as STORE_COMPONENT
from gateway.store import Store

# Everything in the gateway's database file, each part versioned on its own.
DATABASE = (STORE_COMPONENT, *console.COMPONENTS)


@dataclass(frozen=True, slots=True)
class Gateway:
    """Everything the running gateway holds, for the console, the metrics and the tests."""

    config: GatewayConfig
    store: Store
    reads: ReadModel
    platform: Platform
    forwarder: Forwarder
    checkin: CheckIn
    ingest: MqttIngest
    console: Console
    metrics: GatewayMetrics
    registrar: Registrar


def signed_lists(cfg: GatewayConfig) -> dict[str, bytes]:
    """The trust list and red list files, by the retained topic each goes out on."""
    lists = {}
    if cfg.trust.list_file:
        lists[trust_list_topic(cfg.site)] = cfg.trust.list_file.read_bytes()
    if cfg.trust.redlist_file:
        lists[red_list_topic(cfg.site)] = cfg.trust.redlist_file.read_bytes()
    return lists


def broker_address(cfg: GatewayConfig) -> mqtt_client.BrokerAddress:
    b = cfg.broker
    return mqtt_client.BrokerAddress(
        b.host, b.port, b.username, b.password, b.keepalive, b.ca_file, b.cert_file, b.key_file
    )


@asynccontextmanager
async def running(
    cfg: GatewayConfig, on_death: Callable[[TaskDied], None] = lambda _died: None
) -> AsyncIterator[Gateway]:
    async with AsyncExitStack() as stack:
        store = await Store.open(cfg.db_path)
        stack.push_async_callback(store.close)
        reads = await ReadModel.open(cfg.db_path)
        stack.push_async_callback(reads.close)
        p = cfg.platform
        platform = HttpPlatform(p.url, p.lookup_deadline_s, p.upload_timeout_s)
        stack.push_async_callback(platform.close)
        broker_faults: Counter[str] = Counter()
        session = mqtt_client.Session(broker_address(cfg), f"gateway-{cfg.site}",
                                      max_queued_incoming=10000,
                                      on_fault=lambda reason: broker_faults.update((reason,)))
        # the kiosks' backlogs arrive on a connection of their own (gateway/mqtt_ingest.py)
        backlog_session = mqtt_client.Session(
            broker_address(cfg), f"gateway-{cfg.site}-backlog", max_queued_incoming=10000,
            on_fault=lambda reason: broker_faults.update((reason,)))
        replies = KioskReplies(cfg.site, session, retained=signed_lists(cfg),
                               acks=backlog_session)
        k = cfg.kiosks
        register = KioskRegister.load(k.register_file)
        site_console = await Console.open(cfg, reads, platform, replies, register)
        stack.push_async_callback(site_console.close)
        gateway_metrics = GatewayMetrics()
        observers = Observers([gateway_metrics, site_console])
        upload_queue = await ReadModel.open(cfg.db_path, background=True)
        stack.push_async_callback(upload_queue.close)
        forwarder = Forwarder(store, upload_queue, platform, p.upload_batch, p.upload_hold_s)
        policies = site_console.entry_policies
        trust = KioskTrust(register,
                           GatewayLists.load(cfg.trust.list_file, cfg.trust.redlist_file),
                           int(k.max_clock_skew_s * 1000), policies.for_door)
        statuses = StatusCache(platform, p.cache_ttl_s, p.cache_max_stale_s)
        pseudonyms = Pseudonymiser(cfg.pseudonym_key)
        checkin = CheckIn(cfg.site, store, statuses, pseudonyms, replies, observers,
                          on_stored=forwarder.wake.set, trust=trust, policies=policies,
                          threshold_dc=round(cfg.temperature.threshold_c * 10))
        registrar = Registrar(cfg.site, store, reads, statuses, pseudonyms, observers, register,
                              site_console.units, on_stored=forwarder.wake.set,
                              policies=policies, more_doors=cfg.duty.doors)
        door_policies = PolicyPublisher(cfg.site, session, register, policies)
        fair = FairIngest(k.replay_rate, k.replay_burst, k.replay_queue,
                          live_in_flight=k.live_in_flight,
                          on_flood=lambda kiosk, n: observers.observe(ReplayFlood(kiosk, n)))
        settling = Settling()  # scans received, not yet stored: the sequence answer waits
        ingest = MqttIngest(cfg.site, session, checkin,
                            KioskReports(store, reads, replies, observers, settling), replies,
                            broker_faults, fair, settling, staff=site_console.desk,
                            backlog=backlog_session)
        gateway = Gateway(cfg, store, reads, platform, forwarder, checkin, ingest, site_console,
                          gateway_metrics, registrar)

        supervisor = Supervisor(on_death)
        stack.push_async_callback(supervisor.stop)
        supervisor.watch("store-writer", store.writer)
        supervisor.start("mqtt", ingest.run())
        supervisor.start("replays", ingest.replay_worker())
        supervisor.start("forwarder", forwarder.run())
        supervisor.start("door-policies", door_policies.run())
        for name, work in site_console.tasks().items():
            supervisor.start(name, work)
        yield gateway


def create_app(
    config: GatewayConfig,
    settle_heap: bool = False,
    on_death: Callable[[TaskDied], None] = lambda _died: None,
) -> FastAPI:
    """`settle_heap`: the gateway process's own app (python -m gateway), once started, has
    its heap frozen (firmware/startup.settle_heap); an app inside a test process does not.
    `on_death`: called once if a background task ends (it is logged either way)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(config, on_death) as gateway:
            app.state.gateway = gateway
            if settle_heap:
                startup.settle_heap()
            yield

    # No API documentation routes: nothing answers without sign-in but the liveness check
    # and the sign-in page (gateway/web_security.py).
    app = FastAPI(title="PlaceCode gateway", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(web_security.SecurityHeaders)
    app.include_router(console.router)
    app.include_router(duty_routes.router)  # the roster, the gate opened by staff
    app.include_router(auth.router)
    app.include_router(registration_api.router)  # visitors registered by hand, paper register
    app.include_router(release.router)  # kiosk updates and time (docs/install.md)
    app.include_router(metrics.router)  # GET /metrics
    return app
