"""The route table: each handler is declared once, with what the OpenAPI document says about it.

Handlers are registered with ``@table.get(path, summary, ...)`` next to their code; the app
adds exactly these routes to the router and ``webapp.openapi`` describes exactly these, so
the document cannot drift from what is served.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Schema = dict[str, Any]
_PATH_PARAM = re.compile(r"\{(\w+)(?::[^{}]+)?\}")


@dataclass(frozen=True)
class Param:
    """A query parameter."""

    name: str
    schema: Schema
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class Route:
    """One method on one path, and what it accepts and answers."""

    method: str
    path: str  # aiohttp syntax, e.g. "/api/jobs/{id:\\d+}"
    handler: Handler
    summary: str
    tag: str
    auth: bool = True
    query: tuple[Param, ...] = ()
    body: Schema | None = None  # JSON request body
    form: Schema | None = None  # multipart/form-data request body
    status: int = 200
    response: Schema | None = None
    content_type: str = "application/json"
    errors: tuple[int, ...] = ()  # error statuses besides those derived below
    head: bool = False  # also answer HEAD

    @property
    def doc_path(self) -> str:
        """The OpenAPI path: ``{id:\\d+}`` becomes ``{id}``."""
        return _PATH_PARAM.sub(r"{\1}", self.path)

    @property
    def path_params(self) -> list[str]:
        return _PATH_PARAM.findall(self.path)

    def error_statuses(self) -> list[int]:
        """Every error status this route may answer."""
        codes = set(self.errors)
        if self.auth:
            codes |= {401, 403}
        if self.path_params:
            codes.add(404)
        if self.auth and (self.body is not None or self.form is not None or self.query):
            codes.add(422)
        if self.method in ("POST", "PUT", "DELETE") and self.auth:
            codes.add(409)
        return sorted(codes)


@dataclass
class RouteTable:
    """Routes of one area (one OpenAPI tag)."""

    tag: str
    routes: list[Route] = field(default_factory=list)

    def _add(self, method: str, path: str, summary: str, **options: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method, path, handler, summary, options.pop("tag", self.tag),
                                     **options))
            return handler
        return register

    def get(self, path: str, summary: str, **options: Any) -> Callable[[Handler], Handler]:
        return self._add("GET", path, summary, **options)

    def post(self, path: str, summary: str, **options: Any) -> Callable[[Handler], Handler]:
        return self._add("POST", path, summary, **options)

    def put(self, path: str, summary: str, **options: Any) -> Callable[[Handler], Handler]:
        return self._add("PUT", path, summary, **options)

    def delete(self, path: str, summary: str, **options: Any) -> Callable[[Handler], Handler]:
        return self._add("DELETE", path, summary, **options)


ROUTE_SPEC = web.AppKey("route_spec", dict)  # aiohttp route -> Route


def register(app: web.Application, routes: list[Route]) -> None:
    """Add the routes to the app's router and remember which spec each one serves."""
    specs: dict[web.AbstractRoute, Route] = {}
    for spec in routes:
        specs[app.router.add_route(spec.method, spec.path, spec.handler)] = spec
        if spec.head:
            specs[app.router.add_route("HEAD", spec.path, spec.handler)] = spec
    app[ROUTE_SPEC] = specs


def spec_of(request: web.Request) -> Route | None:
    """The route spec that matched ``request`` (None for unknown paths)."""
    specs: dict[web.AbstractRoute, Route] = request.app[ROUTE_SPEC]
    return specs.get(request.match_info.route)


# ---- schema helpers, short to keep the table readable -------------------------------------

def obj(properties: dict[str, Schema] | None = None, *, required: tuple[str, ...] = (),
        extra: bool = True, description: str = "") -> Schema:
    """A JSON object schema."""
    schema: Schema = {"type": "object"}
    if properties:
        schema["properties"] = properties
    if required:
        schema["required"] = list(required)
    if not extra:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


def s(description: str = "", **extra: Any) -> Schema:
    """A string."""
    return {"type": "string", **({"description": description} if description else {}), **extra}


def i(description: str = "", **extra: Any) -> Schema:
    """An integer."""
    return {"type": "integer", **({"description": description} if description else {}), **extra}


def b(description: str = "") -> Schema:
    """A boolean."""
    return {"type": "boolean", **({"description": description} if description else {})}


def nullable(schema: Schema) -> Schema:
    """``schema`` or null (OpenAPI 3.1 style)."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def arr(items: Schema, description: str = "") -> Schema:
    """An array."""
    return {"type": "array", "items": items, **({"description": description} if description else {})}


def ref(name: str) -> Schema:
    """A reference to ``components.schemas[name]``."""
    return {"$ref": f"#/components/schemas/{name}"}


PAGE = (Param("limit", i("page size", minimum=1, maximum=500, default=50)),
        Param("offset", i("rows to skip", minimum=0, default=0)))
PERIOD = Param("period", s("7days, 30days, 90days or N (1-366 days, today included)", default="30days"))
