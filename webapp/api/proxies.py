"""/api/proxies: CRUD and health checks (specification §4.4, §6.4)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from webapp import render
from webapp.context import services
from webapp.parse import Fields, Query, json_body, path_id
from webapp.routes import PAGE, RouteTable, arr, b, i, nullable, obj, ref, s

routes = RouteTable(tag="proxies")

ID = r"/api/proxies/{id:\d+}"
PROPS = {"alias": s(), "type": s(enum=["http", "https", "socks5"]), "host": s(),
         "port": {"type": ["integer", "string"], "minimum": 1, "maximum": 65535},
         "username": nullable(s()), "password": nullable(s()),
         "assignment": s(enum=["global", "per_account"])}
RESULT = obj({"status": s(), "proxy": ref("Proxy"), "health_check": obj(description="when tested")})
CHECK = obj({"health_status": s(), "tests": arr(obj({"endpoint": s(), "result": s(), "latency_ms": i()})),
             "average_latency_ms": nullable(i()), "last_checked": s()})


def _fields(data: dict[str, Any], allowed: tuple[str, ...], *, creating: bool) -> dict[str, Any]:
    """Type checks; the service checks the values (host, port range, credentials pairing)."""
    f = Fields(data)
    f.only(allowed)
    out: dict[str, Any] = {}
    for name in ("alias", "type", "host"):
        value = f.text(name, required=creating)
        if value is not None:
            out[name] = value
    if creating and not f.has("port"):
        f.errors["port"] = "this field is required"
    elif f.has("port"):
        port = data["port"]
        if isinstance(port, bool) or not isinstance(port, int | str):
            f.errors["port"] = "must be a port number 1-65535"
        else:
            out["port"] = port
    for name in ("username", "password"):
        if f.has(name):
            out[name] = f.text(name, nullable=True)
    if f.has("assignment"):
        out["assignment"] = f.text("assignment")
    if f.has("enabled"):
        out["enabled"] = f.flag("enabled")
    f.done()
    return out


@routes.get("/api/proxies", "List proxies", query=PAGE,
            response=obj({"total": i(), "limit": i(), "offset": i(), "proxies": arr(ref("Proxy"))}))
async def list_proxies(request: web.Request) -> web.Response:
    q = Query(request)
    limit, offset = q.page()
    q.done()
    rows = await services(request).proxies.list()
    items = [render.proxy(p) for p in rows[offset:offset + limit]]
    return web.json_response(render.page(len(rows), limit, offset, "proxies", items))


@routes.post("/api/proxies", "Add a proxy (test: true also checks it at once)",
             body=obj({**PROPS, "test": b("check it right away")},
                      required=("alias", "type", "host", "port")),
             status=201, response=RESULT)
async def create_proxy(request: web.Request) -> web.Response:
    data = await json_body(request)
    f = Fields(data)
    test = f.flag("test", default=False)
    f.done()
    values = _fields({k: v for k, v in data.items() if k != "test"}, tuple(PROPS), creating=True)
    svc = services(request).proxies
    proxy = await svc.create(**values)
    body: dict[str, Any] = {"status": "success"}
    if test:
        body["health_check"] = (await svc.health_check(proxy.id)).to_dict()
        proxy = await svc.get(proxy.id)
    body["proxy"] = render.proxy(proxy)
    return web.json_response(body, status=201)


@routes.get(ID, "A proxy", response=RESULT)
async def get_proxy(request: web.Request) -> web.Response:
    proxy = await services(request).proxies.get(path_id(request))
    return web.json_response({"status": "success", "proxy": render.proxy(proxy)})


@routes.put(ID, "Change a proxy (a new address or credentials resets its health)",
            body=obj({**PROPS, "enabled": b()}, extra=False), response=RESULT)
async def update_proxy(request: web.Request) -> web.Response:
    values = _fields(await json_body(request), (*PROPS, "enabled"), creating=False)
    proxy = await services(request).proxies.update(path_id(request), **values)
    return web.json_response({"status": "success", "proxy": render.proxy(proxy)})


@routes.delete(ID, "Delete a proxy nothing uses", response=obj({"status": s(), "deleted": i()}))
async def delete_proxy(request: web.Request) -> web.Response:
    proxy_id = path_id(request)
    await services(request).proxies.delete(proxy_id)
    return web.json_response({"status": "success", "deleted": proxy_id})


@routes.post(ID + "/health-check", "Check a proxy against the check URLs now",
             response=obj({"status": s(), "proxy_id": i(), **CHECK["properties"]}))
async def health_check(request: web.Request) -> web.Response:
    proxy_id = path_id(request)
    check = await services(request).proxies.health_check(proxy_id)
    return web.json_response({"status": "success", "proxy_id": proxy_id, **check.to_dict()})


@routes.post("/api/proxies/test-all", "Check every enabled proxy now",
             response=obj({"status": s(), "healthy": i(), "unhealthy": i(),
                           "results": obj(description="proxy id -> health check")}))
async def test_all(request: web.Request) -> web.Response:
    results = await services(request).proxies.health_check_all()
    ok = sum(1 for c in results.values() if c.ok)
    return web.json_response({"status": "success", "healthy": ok, "unhealthy": len(results) - ok,
                              "results": {str(k): c.to_dict() for k, c in results.items()}})
