"""What operators poll: ``/metrics`` (Prometheus) and ``/readyz``.

``/metrics`` asks for ``Authorization: Bearer <TOKENWIRE_METRICS_TOKEN>`` when that secret is
set (only the header: a query string ends up in too many logs). ``/readyz`` answers 200 when
the store, the event log and the provider all answer, else 503 with what is failing; it is
what a load balancer should look at, while ``/healthz`` only says the process is alive.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from tokenwire.api.deps import get_engine, get_settings
from tokenwire.errors import Unauthorized
from tokenwire.ops import Operations
from tokenwire.ops.readiness import readiness

router = APIRouter(include_in_schema=False)


def operations(request: Request) -> Operations:
    ops: Operations = request.app.state.ops
    return ops


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    secret = get_settings(request).metrics_token
    if secret is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        expected = secret.get_secret_value().encode()
        if scheme.lower() != "bearer" or not secrets.compare_digest(given.encode(), expected):
            raise Unauthorized("the metrics need the metrics bearer token")
    body, media_type = operations(request).metrics.render(request.headers.get("accept", ""))
    return Response(body, headers={"Content-Type": media_type})


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    ready, report = await readiness(get_engine(request), operations(request).counters)
    body: dict[str, Any] = report
    return JSONResponse(body, status_code=200 if ready else 503)
