"""Alerts nobody acknowledged in time go to the site manager (一码一守: handled there and
then, or someone above the door hears of it).

Every open alert older than `duty.escalate_after_s` is sent once through the notifier
(gateway/notify.py). A failed delivery is retried with a doubling pause (up to a minute)
for as long as the alert stays open; the alert records when and where the notice went, or
why it has not yet, and the console shows it. Each escalation is audited (user `system`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from gateway.alerts import Alerts
from gateway.notify import Notice, Notifier, NotifyError

log = logging.getLogger(__name__)

KIND_TEXT = {
    "entry": ("入场需人工处理", "entry needs a person"),
    "door_unattended": ("入口无人值守", "door unattended"),
    "kiosk_offline": ("终端离线", "kiosk offline"),
    "misuse": ("离线码异常使用", "signed code misused"),
    "kiosk_claim": ("终端上报内容不可信", "kiosk claim not believed"),
    "replay_flood": ("终端补传数据过多", "kiosk replay flood"),
}
COLOUR_TEXT = {"red": ("红码", "red"), "yellow": ("黄码", "yellow"),
               "unknown": ("未核验", "not checked")}


def notice_for(site: str, alert: dict, now_ms: int) -> Notice:
    zh, en = KIND_TEXT.get(alert["kind"], (alert["kind"], alert["kind"]))
    colour = alert.get("colour")
    if alert["kind"] == "entry" and colour in COLOUR_TEXT:
        zh, en = f"{COLOUR_TEXT[colour][0]}，{zh}", f"{COLOUR_TEXT[colour][1]} code, {en}"
    where = alert.get("door") or alert.get("kiosk") or "-"
    waited = max(0, (now_ms - alert["raised_ms"]) // 1000)
    duty = alert.get("assignee") or "无 none"
    text = (f"【场所码 {site}】{where}：{zh}，{waited} 秒未处理（值班：{duty}）。"
            f" / [PlaceCode {site}] {where}: {en}, not acknowledged for {waited} s"
            f" (on duty: {duty}).")
    return Notice(f"{site}:alert:{alert['n']}", site, alert["n"], alert["kind"],
                  alert.get("door"), colour, alert["raised_ms"], waited, alert.get("assignee"),
                  text)


class Escalation:
    def __init__(self, site: str, alerts: Alerts, notifier: Notifier, after_s: float,
                 audit: Callable[..., Awaitable[None]]) -> None:
        self.site = site
        self.alerts = alerts
        self.notifier = notifier
        self.after_ms = int(after_s * 1000)
        self.audit = audit
        self._next_try: dict[int, tuple[float, float]] = {}  # alert -> (when, pause)

    async def run(self, every_s: float = 1.0) -> None:
        while True:
            await self.round()
            await asyncio.sleep(every_s)

    async def round(self) -> None:
        now = int(time.time() * 1000)
        due = await self.alerts.due_for_escalation(now - self.after_ms)
        self._next_try = {n: t for n, t in self._next_try.items() if n in {a["n"] for a in due}}
        for alert in due:
            when, pause = self._next_try.get(alert["n"], (0.0, 1.0))
            if time.monotonic() < when:
                continue
            notice = notice_for(self.site, alert, now)
            try:
                await self.notifier.send(notice)
            except NotifyError as exc:
                self._next_try[alert["n"]] = (time.monotonic() + pause, min(60.0, pause * 2))
                log.warning("alert %d not escalated (%s): retrying in %.0f s", alert["n"],
                            exc.reason, pause)
                await self.alerts.escalation_failed(alert["n"], exc.reason)
                continue
            self._next_try.pop(alert["n"], None)
            if await self.alerts.escalated(alert["n"], self.notifier.name):
                log.info("alert %d escalated to the site manager (%s)", alert["n"],
                         self.notifier.name)
                await self.audit("system", "-", "escalate_alert", alert=alert["n"],
                                 kind=alert["kind"], door=alert.get("door"),
                                 to=self.notifier.name, waited_s=notice.waited_s)
