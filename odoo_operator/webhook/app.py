"""The webhook's aiohttp application: one POST route per kind (see `paths`).

Guarantees, for any bytes a client sends:
- a body over `MAX_BODY_BYTES` (6 MiB: an UPDATE carries two objects of up to 3 MiB,
  the API server's request limit) gets 413, one not received within `READ_TIMEOUT`
  (8 s, under the API server's 10 s call timeout) gets 408, one that is not an
  AdmissionReview v1 gets 400 with the reason; never a 500, and the server goes on;
- a review gets 200 with `allowed: true`, or `allowed: false` and every problem the
  rules found (`rules.problems`); a review of another kind than the path's is denied;
- DELETE, CONNECT and subresource writes are admitted unchecked;
- every answer counts in `odoo_operator_webhook_admissions_total{kind,result}` with
  result `allowed`, `denied` or `invalid` (a 4xx); a bug in a rule denies (and logs
  the traceback) instead of failing the request, as `failurePolicy: Fail` would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from odoo_operator.webhook import review, rules
from odoo_operator.webhook.paths import PATHS

_log = structlog.get_logger(__name__)

MAX_BODY_BYTES = 6 * 1024 * 1024
READ_TIMEOUT = 8.0
CHECKED_OPERATIONS = ("CREATE", "UPDATE")
ADMISSIONS_METRIC = "odoo_operator_webhook_admissions_total"

Handler = Callable[[web.Request], Awaitable[web.Response]]


def admissions_counter(registry: CollectorRegistry) -> Counter:
    return Counter(
        ADMISSIONS_METRIC,
        "Admission reviews answered, by kind and result (allowed, denied, invalid).",
        ("kind", "result"),
        registry=registry,
    )


def _problems(kind: str, request: review.AdmissionRequest) -> list[str]:
    if request.kind != kind:
        return [f"this webhook path validates {kind}, not {request.kind}"]
    if request.object is None:
        return ["request.object: missing"]
    old = request.old_object if request.operation == "UPDATE" else None
    return [str(problem) for problem in rules.problems(kind, request.object, old)]


def _handler(kind: str, admissions: Counter, read_timeout: float) -> Handler:
    def invalid(status: int, reason: str) -> web.Response:
        admissions.labels(kind=kind, result="invalid").inc()
        return web.Response(status=status, text=f"{reason}\n")

    async def handle(request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(read_timeout):
                body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return invalid(413, f"body larger than {MAX_BODY_BYTES} bytes")
        except TimeoutError:
            return invalid(408, f"body not received within {read_timeout:g} s")
        try:
            admission = review.parse_review(body)
        except review.BadReview as error:
            return invalid(400, f"not an AdmissionReview: {error}")
        if admission.operation not in CHECKED_OPERATIONS or admission.subresource:
            answer = review.allowed(admission.uid)
        else:
            try:
                problems = _problems(kind, admission)
            except Exception as error:
                _log.exception("webhook rule failed", kind=kind, name=admission.name)
                problems = [f"the webhook could not check this object: {error!r}"]
            answer = (
                review.denied(admission.uid, problems)
                if problems
                else review.allowed(admission.uid)
            )
        result = "allowed" if answer["response"]["allowed"] else "denied"
        admissions.labels(kind=kind, result=result).inc()
        return web.json_response(answer)

    return handle


def webhook_app(admissions: Counter, *, read_timeout: float = READ_TIMEOUT) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    for route, kind in PATHS.items():
        app.router.add_post(route, _handler(kind, admissions, read_timeout))
    return app
