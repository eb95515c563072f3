"""Prometheus metrics for the gateway: `GET /metrics`.

What a site manager's dashboard or alerting needs at 7 a.m.: are scans flowing (by colour
and method), how long people wait for a verdict, is anything piling up (kiosk outboxes,
the upload queue to the platform), is the platform failing, are the kiosks online and
healthy; answered on loopback or to the configured bearer token (gateway/web_security.py).
Scans and verdict latency are observed as they happen (an observer of the gateway's
events, gateway/events.py); counters the gateway keeps anyway (MQTT, platform,
forwarder) and the store's state (through the read model) are read at scrape time.

Each app has its own registry, so several gateways in one test process do not collide.
No label ever carries personal data: kiosk names and closed sets (colour, method, reason).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.events import Event, ScanStored, VerdictSent

if TYPE_CHECKING:
    from gateway.app import Gateway
from gateway.web_security import metrics_scraper

router = APIRouter()

# Verdict latency buckets (seconds): the door's budget is verdict_timeout_s = 1.5 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5, 2.5, 5.0)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.scans = Counter("placecode_scans", "Scans with a verdict, by colour and method",
                             ["colour", "method"], registry=self.registry)
        self.latency = Histogram("placecode_verdict_latency_seconds",
                                 "From a scan reaching the gateway to its verdict being sent",
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.snapshot: dict = {}
        self.registry.register(_Snapshot(self))

    def observe(self, event: Event) -> None:
        if isinstance(event, VerdictSent):
            self.latency.observe(event.latency_s)
        elif isinstance(event, ScanStored):
            self.scans.labels(event.colour, event.method).inc()

    async def refresh(self, gateway: Gateway) -> None:
        """Read what needs awaiting (the read model) before the synchronous collection."""
        self.snapshot = {
            "kiosks": await gateway.reads.kiosks(),
            "upload_backlog": await gateway.reads.upload_backlog(),
            "uploaded": gateway.forwarder.uploaded,
            "last_upload": gateway.forwarder.last_success,
            "platform_errors": dict(gateway.platform.errors),
            "received": dict(gateway.ingest.received),
            "rejected": dict(gateway.ingest.rejected),
            "mqtt_connected": gateway.ingest.connected(),
            "mqtt_faults": dict(gateway.ingest.faults),
            "storage_fault": gateway.store.fault,
            "storage_refused": gateway.store.storage_faults,
            "forwarder_failing": gateway.forwarder.last_error is not None,
            "sequence_faults": await gateway.reads.sequence_fault_counts(),
        }


class _Snapshot(Collector):
    def __init__(self, metrics: GatewayMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator:
        s = self.metrics.snapshot
        if not s:
            return
        online = GaugeMetricFamily("placecode_kiosks_online", "Kiosks whose status is online")
        online.add_metric([], sum(1 for k in s["kiosks"] if k["state"] == "online"))
        yield online
        up = GaugeMetricFamily("placecode_kiosk_up", "1 if the kiosk is online", labels=["kiosk"])
        outbox = GaugeMetricFamily("placecode_kiosk_outbox_backlog",
                                   "Scans the kiosk has not had acknowledged (its last status)",
                                   labels=["kiosk"])
        faults = GaugeMetricFamily("placecode_kiosk_device_faults",
                                   "Devices reporting a fault on the kiosk", labels=["kiosk"])
        seen = GaugeMetricFamily("placecode_kiosk_last_seen_timestamp_seconds",
                                 "When the gateway last heard the kiosk's status",
                                 labels=["kiosk"])
        for k in s["kiosks"]:
            up.add_metric([k["kiosk"]], 1 if k["state"] == "online" else 0)
            outbox.add_metric([k["kiosk"]], k["outbox"] or 0)
            faults.add_metric([k["kiosk"]], sum(1 for v in k["health"].values() if v != "ok"))
            seen.add_metric([k["kiosk"]], k["last_seen_ms"] / 1000)
        yield from (up, outbox, faults, seen)
        backlog = GaugeMetricFamily("placecode_forwarder_backlog",
                                    "Scan records waiting for upload to the platform")
        backlog.add_metric([], s["upload_backlog"])
        yield backlog
        uploaded = CounterMetricFamily("placecode_forwarder_uploaded",
                                       "Records the platform confirmed since start")
        uploaded.add_metric([], s["uploaded"])
        yield uploaded
        if s["last_upload"] is not None:
            last = GaugeMetricFamily("placecode_forwarder_last_success_timestamp_seconds",
                                     "Last successful upload batch")
            last.add_metric([], s["last_upload"])
            yield last
        failing = GaugeMetricFamily("placecode_forwarder_failing",
                                    "1 while the forwarder's last round failed (its last_error)")
        failing.add_metric([], 1 if s["forwarder_failing"] else 0)
        yield failing
        storage = GaugeMetricFamily("placecode_storage_fault",
                                    "1 while the gateway's disk refuses writes (full or failing)")
        storage.add_metric([], 1 if s["storage_fault"] else 0)
        yield storage
        refused = CounterMetricFamily("placecode_storage_refused_batches",
                                      "Write batches the disk refused since start")
        refused.add_metric([], s["storage_refused"])
        yield refused
        numbering = CounterMetricFamily(
            "placecode_sequence_faults",
            "Scans that broke their kiosk's numbering (reused number, late after higher ones)",
            labels=["kind"])
        for kind, n in sorted(s["sequence_faults"].items()):
            numbering.add_metric([kind], n)
        yield numbering
        errors = CounterMetricFamily("placecode_platform_errors",
                                     "Failed platform status lookups, by reason",
                                     labels=["reason"])
        for reason, n in sorted(s["platform_errors"].items()):
            errors.add_metric([reason], n)
        yield errors
        received = CounterMetricFamily("placecode_mqtt_received",
                                       "Valid messages from kiosks, by kind", labels=["kind"])
        for kind, n in sorted(s["received"].items()):
            received.add_metric([kind], n)
        yield received
        rejected = CounterMetricFamily("placecode_mqtt_rejected",
                                       "Messages dropped, by reason", labels=["reason"])
        for reason, n in sorted(s["rejected"].items()):
            rejected.add_metric([reason], n)
        yield rejected
        broker_faults = CounterMetricFamily("placecode_mqtt_faults",
                                            "Broker connections lost or refused, by reason",
                                            labels=["reason"])
        for reason, n in sorted(s["mqtt_faults"].items()):
            broker_faults.add_metric([reason], n)
        yield broker_faults
        connected = GaugeMetricFamily("placecode_mqtt_connected",
                                      "1 if the gateway has the broker")
        connected.add_metric([], 1 if s["mqtt_connected"] else 0)
        yield connected


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(metrics_scraper)])
async def scrape(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    await gateway.metrics.refresh(gateway)
    return Response(generate_latest(gateway.metrics.registry), media_type=CONTENT_TYPE_LATEST)
