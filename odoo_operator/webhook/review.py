"""AdmissionReview v1 (`admission.k8s.io/v1`): read a request, write the answer.

Guarantees:
- `parse_review` accepts exactly a JSON `AdmissionReview` of `admission.k8s.io/v1`
  with a `request` that has a `uid`, an `operation` and a `kind`; anything else raises
  `BadReview` with a message saying what is wrong (the server answers it with 400);
- `object` and `oldObject` come back as JSON objects or None, never as anything else;
- `allowed()` and `denied()` build the response the API server expects, echoing the
  request's `uid`; a denial carries HTTP code 403 and every message joined with "; ",
  which `kubectl` prints after `denied the request:`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")


class BadReview(ValueError):
    """The body is not an AdmissionReview v1 request."""


@dataclass(frozen=True)
class AdmissionRequest:
    uid: str
    kind: str  # e.g. OdooInstance (request.kind.kind)
    operation: str  # CREATE, UPDATE, DELETE or CONNECT
    namespace: str | None
    name: str | None
    subresource: str | None
    object: dict[str, Any] | None
    old_object: dict[str, Any] | None


def _optional_object(request: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = request.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise BadReview(f"request.{key} must be a JSON object, got {type(value).__name__}")


def _optional_text(request: dict[str, Any], key: str) -> str | None:
    value = request.get(key)
    if value is None or isinstance(value, str):
        return value or None
    raise BadReview(f"request.{key} must be a string")


def parse_review(body: bytes) -> AdmissionRequest:
    """The request inside an AdmissionReview v1 body; `BadReview` says what is wrong."""
    try:
        review = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise BadReview(f"body is not JSON: {error}") from None
    if not isinstance(review, dict):
        raise BadReview("body is not a JSON object")
    if review.get("apiVersion") != API_VERSION or review.get("kind") != KIND:
        raise BadReview(
            f"expected apiVersion {API_VERSION} and kind {KIND}, got "
            f"{review.get('apiVersion')!r} and {review.get('kind')!r}"
        )
    request = review.get("request")
    if not isinstance(request, dict):
        raise BadReview("request is missing or not a JSON object")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise BadReview("request.uid is missing")
    operation = request.get("operation")
    if operation not in OPERATIONS:
        raise BadReview(f"request.operation must be one of {', '.join(OPERATIONS)}")
    kind = request.get("kind")
    if not isinstance(kind, dict) or not isinstance(kind.get("kind"), str):
        raise BadReview("request.kind.kind is missing")
    return AdmissionRequest(
        uid=uid,
        kind=kind["kind"],
        operation=operation,
        namespace=_optional_text(request, "namespace"),
        name=_optional_text(request, "name"),
        subresource=_optional_text(request, "subResource"),
        object=_optional_object(request, "object"),
        old_object=_optional_object(request, "oldObject"),
    )


def _review(response: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": KIND, "response": response}


def allowed(uid: str) -> dict[str, Any]:
    return _review({"uid": uid, "allowed": True})


def denied(uid: str, messages: list[str]) -> dict[str, Any]:
    status = {"code": 403, "reason": "Forbidden", "message": "; ".join(messages)}
    return _review({"uid": uid, "allowed": False, "status": status})
