"""The routes of one listener.

- ``POST /v1/chat/completions`` and ``POST /chat/completions``: rewrite and forward (:mod:`.relay`);
- ``GET /healthz``: state of the listener as JSON;
- ``GET /v1/models`` (and ``/models``): the provider's catalog models in OpenAI list format;
- anything else: 404, or 405 for a known path with the wrong method, as OpenAI-shaped JSON.

Every route first checks that the client is a program on this machine, not a web page (see
:mod:`.clients`): a refused request gets a 403 and a line in the request log.
"""

from __future__ import annotations

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from ccendpoint.proxy.clients import client_problem
from ccendpoint.proxy.errors import JSON_TYPE, LOGGED, error_response, expect_handler
from ccendpoint.proxy.listener import Listener
from ccendpoint.proxy.record import RequestRecord
from ccendpoint.proxy.relay import handle_chat
from ccendpoint.urls import CHAT_PATH

CHAT_PATHS = (CHAT_PATH, "/chat/completions")
MODELS_PATHS = ("/v1/models", "/models")
HEALTH_PATH = "/healthz"

LISTENER_KEY = web.AppKey("listener", Listener)


def _method_not_allowed(request: web.Request, allowed: str) -> web.Response:
    response = error_response(
        405,
        f"ccendpoint proxy: {request.method} is not allowed on {request.path}; use {allowed}.",
        "method_not_allowed",
    )
    response.headers["Allow"] = allowed
    return response


async def _chat(request: web.Request) -> web.StreamResponse:
    if request.method != "POST":
        return _method_not_allowed(request, "POST")
    return await handle_chat(request, request.app[LISTENER_KEY])


async def _health(request: web.Request) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed(request, "GET")
    return web.Response(body=orjson.dumps(request.app[LISTENER_KEY].health()), content_type=JSON_TYPE)


async def _models(request: web.Request) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed(request, "GET")
    return web.Response(body=request.app[LISTENER_KEY].models_body, content_type=JSON_TYPE)


async def _not_found(request: web.Request) -> web.StreamResponse:
    return error_response(
        404,
        f"ccendpoint proxy: nothing at {request.path}. Chat requests go to POST {CHAT_PATH}.",
        "not_found",
    )


@web.middleware
async def _only_local_clients(request: web.Request, handler: Handler) -> web.StreamResponse:
    listener = request.app[LISTENER_KEY]
    problem = client_problem(request.headers, listener.settings.host)
    if problem is None:
        return await handler(request)
    record = RequestRecord(provider=listener.provider_id, port=listener.bound_port, path=request.path)
    record.headers = tuple(request.headers.items())
    record.fail("refused_client", problem, 403)
    listener.log.emit(record, listener.settings.log_path)
    request[LOGGED] = True
    return error_response(403, f"ccendpoint proxy: {problem}", "forbidden_client")


def build_app(listener: Listener) -> web.Application:
    app = web.Application(client_max_size=listener.settings.max_body_bytes, middlewares=[_only_local_clients])
    app[LISTENER_KEY] = listener
    routes = [(path, _chat) for path in CHAT_PATHS] + [(HEALTH_PATH, _health)]
    routes += [(path, _models) for path in MODELS_PATHS] + [("/{tail:.*}", _not_found)]
    for path, handler in routes:
        app.router.add_route("*", path, handler, expect_handler=expect_handler)
    return app
