"""The FHIR R4 HTTP surface: authentication, dispatch to handlers, Bundles, OperationOutcome errors."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from helhet.accounts.access import AccessDenied
from helhet.accounts.models import User
from helhet.fhir import fastjson
from helhet.fhir.errors import FhirError, Issue, invalid, operation_outcome
from helhet.fhir.models import ApiClient, hash_token
from helhet.fhir.registry import BUNDLE_PROCESSOR, HANDLERS, FhirContext, ResourceHandler
from helhet.rows import fetch_instance

logger = logging.getLogger(__name__)
FHIR_JSON = "application/fhir+json"
DEFAULT_COUNT, MAX_COUNT = 50, 500
MAX_BODY_BYTES = 5 * 1024 * 1024


def render_json(body: Any) -> bytes:
    """The response body: see ``fastjson.dumps``."""
    return fastjson.dumps(body)


def fhir_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(render_json(body), status=status, content_type=FHIR_JSON)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


# Plain SQL (fetch_instance): this runs on every API call, and compiling the ORM query cost more than running it.
_TOKEN_USER_SQL = (f"JOIN {ApiClient._meta.db_table} c ON c.user_id = t.id "
                   "WHERE c.token_hash = %s AND c.active = %s AND t.is_active = %s")


def _authenticate(request: HttpRequest) -> FhirContext:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise FhirError(401, "login", "a Bearer token is required (Authorization: Bearer <token>)")
    user = fetch_instance(User, _TOKEN_USER_SQL, [hash_token(token.strip()), True, True])
    if user is None:  # no such token, a revoked client, or a deactivated service account
        raise FhirError(401, "login", "the Bearer token is not valid")
    return FhirContext(user=user, base_url=request.build_absolute_uri("/fhir/").rstrip("/"))


def _handler(resource_type: str) -> ResourceHandler:
    handler = HANDLERS.get(resource_type)
    if handler is None:
        known = ", ".join(sorted(HANDLERS))
        raise FhirError(404, "not-supported", f"resource type {resource_type!r} is not supported; known: {known}")
    return handler


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        raw = request.body
    except RequestDataTooBig:  # above DATA_UPLOAD_MAX_MEMORY_SIZE: refused by Django before our own limit
        raise FhirError(413, "too-costly", "the request body is too large") from None
    if len(raw) > MAX_BODY_BYTES:
        raise FhirError(413, "too-costly", f"request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise FhirError(400, "structure", f"the body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise FhirError(400, "structure", "the body must be a JSON object (a FHIR resource)")
    return body


def _params(request: HttpRequest) -> dict[str, list[str]]:
    return {key: request.GET.getlist(key) for key in request.GET}


def _paging(params: dict[str, list[str]]) -> tuple[int, int]:
    try:
        count = int(params.pop("_count", [str(DEFAULT_COUNT)])[0])
        offset = int(params.pop("_offset", ["0"])[0])
    except ValueError:
        raise invalid("_count and _offset must be integers") from None
    if count < 0 or offset < 0:
        raise invalid("_count and _offset must not be negative")
    return offset, min(count, MAX_COUNT)


def searchset(ctx: FhirContext, resource_type: str, params: dict[str, list[str]], resources: list[dict[str, Any]],
              total: int, offset: int, count: int) -> dict[str, Any]:
    query = [(k, v) for k, values in params.items() for v in values]

    def link(relation: str, at: int) -> dict[str, str]:
        return {"relation": relation,
                "url": f"{ctx.base_url}/{resource_type}?" + urlencode([*query, ("_count", count), ("_offset", at)])}

    links = [link("self", offset)]
    if offset + count < total:
        links.append(link("next", offset + count))
    if offset > 0:
        links.append(link("previous", max(0, offset - count)))
    return {
        "resourceType": "Bundle", "type": "searchset", "total": total, "link": links,
        "entry": [{"fullUrl": f"{ctx.base_url}/{r['resourceType']}/{r['id']}", "resource": r,
                   "search": {"mode": "match"}} for r in resources],
    }


def _dispatch(request: HttpRequest, resource_type: str | None, resource_id: str | None,
              operation: str | None) -> HttpResponse:
    ctx = _authenticate(request)
    if resource_type is None:
        if request.method != "POST":
            raise FhirError(405, "not-supported", "only POST of a transaction Bundle is supported at the base")
        if not BUNDLE_PROCESSOR:
            raise FhirError(501, "not-supported", "transaction bundles are not supported yet")
        return fhir_response(BUNDLE_PROCESSOR[0](ctx, _body(request)))
    handler = _handler(resource_type)
    params = _params(request)
    if operation is not None:
        body = _body(request) if request.method == "POST" else None
        return fhir_response(handler.operation(ctx, operation, params, body))
    if resource_id is not None:
        if request.method != "GET":
            raise FhirError(405, "not-supported", "only GET is supported on a resource instance")
        return fhir_response(handler.read(ctx, resource_id))
    if request.method == "GET":
        offset, count = _paging(params)
        result = handler.search(ctx, params, offset=offset, count=count)
        return fhir_response(searchset(ctx, resource_type, params, result.resources, result.total, offset, count))
    if request.method == "POST":
        resource = _body(request)
        if resource.get("resourceType") != resource_type:
            raise invalid(f"the body is a {resource.get('resourceType')!r}, expected {resource_type}",
                          expression=["resourceType"])
        stored, derived = handler.create(ctx, resource)
        location = f"{ctx.base_url}/{resource_type}/{stored['id']}"
        if derived or ctx.warnings:
            body = {"resourceType": "Bundle", "type": "collection", "timestamp": timezone.now().isoformat(),
                    "entry": [{"fullUrl": f"{ctx.base_url}/{r['resourceType']}/{r['id']}", "resource": r}
                              for r in [stored, *derived]]}
            if ctx.warnings:
                body["entry"].append({"resource": operation_outcome(ctx.warnings)})
            return fhir_response(body, 201, {"Location": location})
        return fhir_response(stored, 201, {"Location": location})
    raise FhirError(405, "not-supported", f"{request.method} is not supported here")


@csrf_exempt
def endpoint(request: HttpRequest, resource_type: str | None = None, resource_id: str | None = None,
             operation: str | None = None) -> HttpResponse:
    try:
        return _dispatch(request, resource_type, resource_id, operation)
    except FhirError as exc:
        return fhir_response(operation_outcome(exc.issues), exc.status)
    except AccessDenied as exc:
        exc.record()
        return fhir_response(operation_outcome([Issue("error", "forbidden", exc.message)]), 403)
    except Exception:  # never a bare 500 page: log it and answer with an OperationOutcome
        logger.exception("FHIR request failed")
        return fhir_response(operation_outcome([Issue("fatal", "exception", "internal error; it has been logged")]),
                             500)


@csrf_exempt
def metadata(request: HttpRequest) -> HttpResponse:
    resources = []
    for resource_type, handler in sorted(HANDLERS.items()):
        entry: dict[str, Any] = {
            "type": resource_type,
            "interaction": [{"code": code} for code in handler.interactions()],
            "searchParam": [{"name": name, "type": kind} for name, kind in handler.search_params.items()],
        }
        if handler.profile:
            entry["profile"] = handler.profile
        resources.append(entry)
    statement = {
        "resourceType": "CapabilityStatement", "status": "active", "date": timezone.now().date().isoformat(),
        "kind": "instance", "fhirVersion": "4.0.1", "format": ["application/fhir+json"],
        "software": {"name": "Helhet", "version": "0.1.0"},
        "implementation": {"description": "Helhet FHIR API", "url": request.build_absolute_uri("/fhir/").rstrip("/")},
        "rest": [{"mode": "server",
                  "security": {"description": "Bearer token per client system; care-relationship checks and audit"},
                  "interaction": [{"code": "transaction"}] if BUNDLE_PROCESSOR else [],
                  "resource": resources}],
    }
    return fhir_response(statement)
