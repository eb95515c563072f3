"""The site manager's end of an escalation: a webhook receiver and an HTTP SMS gateway.

Stands in for whatever the manager's side runs (gateway/notify.py is the sending end):
`POST /hook` takes a webhook notice and checks its bearer token and HMAC signature when
started with `--secret`; `POST /sms` takes {to, text}. Each is kept once per
`Idempotency-Key` (a retry is answered 200 and not kept twice). `GET /received` lists what
arrived; `POST /sim/fail?n=N` makes the next N deliveries fail with 503 (to watch retries).

    python -m simulators.notifier --port 8710 --secret <the gateway's notifier secret>
"""

from __future__ import annotations

import argparse
import hmac
import json
import time

import uvicorn
from fastapi import FastAPI, HTTPException, Request

from gateway.notify import signature


def create_app(secret: str | None = None) -> FastAPI:
    app = FastAPI(title="notifier simulator", docs_url=None, redoc_url=None, openapi_url=None)
    received: list[dict] = []
    keys: set[str] = set()
    failing = {"n": 0}

    async def take(request: Request, channel: str) -> dict:
        body = await request.body()
        if failing["n"] > 0:
            failing["n"] -= 1
            raise HTTPException(503, "simulated outage")
        if secret is not None and channel == "webhook":
            sent = request.headers.get("x-placecode-signature", "")
            if request.headers.get("authorization") != f"Bearer {secret}" \
                    or not hmac.compare_digest(sent, signature(secret, body)):
                raise HTTPException(401, "bad token or signature")
        try:
            payload = json.loads(body)
        except ValueError:
            raise HTTPException(422, "not JSON") from None
        if not isinstance(payload, dict):
            raise HTTPException(422, "not a JSON object")
        key = request.headers.get("idempotency-key", "")
        if key and key in keys:
            return {"ok": True, "duplicate": True}
        keys.add(key)
        received.append({"channel": channel, "at_ms": int(time.time() * 1000), "key": key,
                         "body": payload})
        return {"ok": True}

    @app.post("/hook")
    async def hook(request: Request) -> dict:
        return await take(request, "webhook")

    @app.post("/sms")
    async def sms(request: Request) -> dict:
        return await take(request, "sms")

    @app.get("/received")
    async def listing() -> list[dict]:
        return received

    @app.post("/sim/fail")
    async def fail(n: int = 1) -> dict:
        failing["n"] = max(0, n)
        return {"failing": failing["n"]}

    @app.get("/health")
    async def health() -> dict:
        return {"ok": True}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.notifier")
    parser.add_argument("--port", type=int, default=8710)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--secret", help="check webhooks' bearer token and signature")
    args = parser.parse_args()
    uvicorn.run(create_app(args.secret), host=args.host, port=args.port, log_level="warning",
                access_log=False)


if __name__ == "__main__":
    main()
