"""The gateway process: wires store, platform client, MQTT link, forwarder and console.

`create_app(config)` builds the FastAPI app; its lifespan opens the store and runs the
MQTT link and the forwarder beside the web server, and closes them in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import asynccontextmanager

from fastapi import FastAPI

from firmware import mqtt_client, protocol, startup
from firmware.protocol import red_list_topic, trust_list_topic
from gateway import auth, console, counts, metrics, release
from gateway.checkin import CheckIn
from gateway.config import GatewayConfig
from gateway.forwarder import Forwarder
from gateway.link import GatewayLink
from gateway.personal import Pseudonymiser
from gateway.platform import PlatformClient
from gateway.status_cache import StatusCache
from gateway.store import COMPONENT as STORE_COMPONENT
from gateway.store import Store

# Everything in the gateway's database file, each part versioned on its own.
DATABASE = (STORE_COMPONENT, *console.COMPONENTS)


class Gateway:
    """Everything the running gateway holds, for the console and the tests to read."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.store: Store
        self.platform: PlatformClient
        self.link: GatewayLink
        self.checkin: CheckIn
        self.forwarder: Forwarder

    async def start(self) -> list[asyncio.Task]:
        cfg = self.config
        self.store = await Store.open(cfg.db_path)
        self.platform = PlatformClient(
            cfg.platform.url, cfg.platform.lookup_deadline_s, cfg.platform.upload_timeout_s
        )
        b = cfg.broker
        address = mqtt_client.BrokerAddress(
            b.host, b.port, b.username, b.password, b.keepalive, b.ca_file, b.cert_file, b.key_file
        )
        self.forwarder = Forwarder(
            self.store, self.platform, cfg.platform.upload_batch, cfg.platform.upload_hold_s
        )
        self.link = GatewayLink(
            cfg.site, address, self._on_scan, self._on_status, self._on_door,
            self._on_replays, retained=signed_lists(cfg),
        )
        self.door_listeners: list = []  # async (door, hour_ms, people_in) -> None
        self.statuses = StatusCache(
            self.platform, cfg.platform.cache_ttl_s, cfg.platform.cache_max_stale_s
        )
        self.checkin = CheckIn(
            cfg.site,
            self.store,
            self.statuses,
            Pseudonymiser(cfg.pseudonym_key),
            self.link.publish_verdict,
            self.link.acknowledge,
            on_stored=self.forwarder.wake.set,
        )
        return [
            asyncio.create_task(self.link.run(), name="mqtt"),
            asyncio.create_task(self.link.handle_replays(), name="replays"),
            asyncio.create_task(self.forwarder.run(), name="forwarder"),
        ]

    async def _on_scan(self, msg: dict) -> None:
        await self.checkin.handle(msg)

    async def _on_replays(self, batch: list[dict]) -> None:
        await self.checkin.handle_replays(batch)

    async def _on_status(self, msg: dict) -> None:
        self.store.kiosk_status(msg, protocol.now_ms())
        if msg["state"] == "online":
            # Tell the kiosk the highest sequence we hold, so a kiosk whose data was
            # wiped continues its numbering instead of reusing it.
            await self.link.publish_ack(msg["kiosk"], [], await self.store.high_seq(msg["kiosk"]))

    async def _on_door(self, msg: dict) -> None:
        people = await self.store.add_door_pass(msg)
        hour = msg["ts"] - msg["ts"] % 3_600_000
        for listener in self.door_listeners:
            await listener(msg["door"], hour, people)

    async def stop(self) -> None:
        await self.platform.close()
        await self.store.close()


def signed_lists(cfg: GatewayConfig) -> dict[str, bytes]:
    """The trust list and red list files, by the retained topic each goes out on."""
    lists = {}
    if cfg.trust.list_file:
        lists[trust_list_topic(cfg.site)] = cfg.trust.list_file.read_bytes()
    if cfg.trust.redlist_file:
        lists[red_list_topic(cfg.site)] = cfg.trust.redlist_file.read_bytes()
    return lists


def create_app(config: GatewayConfig, settle_heap: bool = False) -> FastAPI:
    """`settle_heap`: the gateway process's own app (python -m gateway), once started, has
    its heap frozen (firmware/startup.settle_heap); an app inside a test process does not."""
    gateway = Gateway(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        tasks = await gateway.start()
        app.state.console = console.Console(gateway)
        tasks += await app.state.console.start()

        async def people_counted(door: str, hour_ms: int, people: int) -> None:
            await counts.record_people(app.state.console.db, door, hour_ms, people, protocol.now_ms())

        gateway.door_listeners.append(people_counted)
        gateway.checkin.misuse_listeners.append(app.state.console.alerts.on_misuse)
        if settle_heap:
            startup.settle_heap()
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await app.state.console.stop()
            await gateway.stop()

    app = FastAPI(title="PlaceCode gateway", lifespan=lifespan)
    app.state.gateway = gateway
    app.include_router(console.router)
    app.include_router(auth.router)
    app.include_router(release.router)  # kiosk updates and time (docs/install.md)
    metrics.attach(app)  # GET /metrics
    return app
