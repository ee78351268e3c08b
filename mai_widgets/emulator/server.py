"""The emulator's assembly: every route on one port behind a request guard, and ``serve``.

Routes live beside it (:mod:`.iam`, :mod:`.modelarts`, :mod:`.metadata`, :mod:`.swr`); what they
share is in :mod:`.base`. No client input gets a 500: oversized headers and bodies are answered by
:class:`RequestGuard` before any handler runs.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
import uuid
from collections.abc import Awaitable
from typing import TextIO

from tornado import httputil
from tornado.http1connection import HTTP1Connection
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.netutil import bind_sockets
from tornado.web import Application

from .base import (
    DRAIN_BODY_BYTES,
    MAX_BODY_BYTES,
    MAX_HEADER_BYTES,
    REGISTRY_PATH_RE,
    TORNADO_MAX_HEADER_BYTES,
    UPLOAD_PATH_RE,
    EmulatorState,
    NotFoundHandler,
    error_body,
    log,
    now_ms,
)
from .cli import READY_PREFIX, EmulatorSettings
from .iam import iam_routes
from .metadata import metadata_routes
from .modelarts import modelarts_routes
from .notebooks import install_notebooks, notebook_routes
from .registry import MAX_UPLOAD_BYTES
from .store import ImageStore
from .swr import swr_routes

# -- requests too large for any handler ---------------------------------------------------------


def _refusal(
    message: str, path: str, *, body_too_large: bool
) -> tuple[httputil.ResponseStartLine, httputil.HTTPHeaders, bytes]:
    """The answer to an oversized request: the registry's error shape on its routes (a body: 413),
    ModelArts' (400) on the others."""
    if REGISTRY_PATH_RE.match(path):
        code = "UNSUPPORTED"
        if body_too_large:
            code = "MANIFEST_INVALID" if "/manifests/" in path else "SIZE_INVALID"
        errors = {"errors": [{"code": code, "message": message, "detail": None}]}
        body = json.dumps(errors).encode()
        headers = httputil.HTTPHeaders(
            {
                "Content-Type": "application/json; charset=utf-8",
                "Docker-Distribution-Api-Version": "registry/2.0",
            }
        )
        status = (413, "Payload Too Large") if body_too_large else (400, "Bad Request")
    else:
        body = json.dumps(error_body("ModelArts.0104", f"Invalid parameter: {message}")).encode()
        headers = httputil.HTTPHeaders({"Content-Type": "application/json;charset=UTF-8"})
        status = (400, "Bad Request")
    headers["Content-Length"] = str(len(body))
    headers["X-Request-Id"] = uuid.uuid4().hex
    return httputil.ResponseStartLine("HTTP/1.1", *status), headers, body


class RequestGuard(httputil.HTTPMessageDelegate):
    """Stands before tornado's routing for one request and answers oversized ones itself.

    tornado's own answer to a body or headers over its limits is a bare ``400`` with no body
    (or a closed connection): here they get the API's JSON error and ``X-Request-Id``. A body
    that is too large is read and dropped (up to ``DRAIN_BODY_BYTES``) so the client, still
    sending, reads the answer instead of a reset.
    """

    def __init__(
        self, inner: httputil.HTTPMessageDelegate, connection: httputil.HTTPConnection, latency: float = 0.0
    ) -> None:
        self.inner = inner
        self.connection = connection
        self.latency = latency
        self.problem: str | None = None
        self.body_too_large = False
        self.path = ""
        self.received = 0
        self.max_body = MAX_BODY_BYTES

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        header_bytes = sum(len(str(part)) + 1 for part in start_line)
        header_bytes += sum(len(k) + len(v) + 4 for k, v in headers.get_all())
        declared = headers.get("Content-Length", "")
        length = int(declared) if declared.isascii() and declared.isdigit() else 0
        target = start_line.path if isinstance(start_line, httputil.RequestStartLine) else ""
        path = self.path = target.split("?", 1)[0]  # the path alone decides, never its query
        if UPLOAD_PATH_RE.match(path):
            # a layer in one request, as docker sends it; the upload handler caps the total
            self.max_body = MAX_UPLOAD_BYTES
            if isinstance(self.connection, HTTP1Connection):
                self.connection.set_max_body_size(MAX_UPLOAD_BYTES)
        if header_bytes > MAX_HEADER_BYTES:
            self.problem = f"the request headers are larger than {MAX_HEADER_BYTES} bytes"
        elif length > self.max_body:
            self.problem = f"the request body is larger than {self.max_body} bytes"
            self.body_too_large = True
        if self.problem is None:
            return self.inner.headers_received(start_line, headers)
        if length > DRAIN_BODY_BYTES and isinstance(self.connection, HTTP1Connection):
            # Too much to read and drop: answer now and close once the answer is written.
            line, out_headers, body = self.refusal()
            out_headers["Connection"] = "close"
            head = f"{line.version} {line.code} {line.reason}\r\n" + "".join(
                f"{k}: {v}\r\n" for k, v in out_headers.get_all()
            )
            stream = self.connection.detach()
            written = stream.write(head.encode("latin-1") + b"\r\n" + body)
            written.add_done_callback(lambda _: stream.close())
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        self.received += len(chunk)
        if self.problem is None and self.received > self.max_body:
            # A chunked body has no Content-Length to refuse up front.
            self.problem = f"the request body is larger than {self.max_body} bytes"
            self.body_too_large = True
            self.inner.on_connection_close()  # it will never see the rest of this request
        if self.problem is not None:
            return None
        return self.inner.data_received(chunk)

    def finish(self) -> None:
        if self.problem is None:
            if self.latency > 0:  # --latency: answered later, while the loop serves other requests
                IOLoop.current().call_later(self.latency, self.inner.finish)
            else:
                self.inner.finish()
            return
        line, headers, body = self.refusal()
        self.connection.write_headers(line, headers, body)
        self.connection.finish()

    def refusal(self) -> tuple[httputil.ResponseStartLine, httputil.HTTPHeaders, bytes]:
        assert self.problem is not None
        return _refusal(self.problem, self.path, body_too_large=self.body_too_large)

    def on_connection_close(self) -> None:
        if self.problem is None:
            self.inner.on_connection_close()


class GuardedHTTPServer(HTTPServer):
    """tornado's HTTPServer with every request behind a :class:`RequestGuard`; ``latency``
    (seconds, ``--latency``) delays every answer."""

    latency: float = 0.0

    def start_request(
        self, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> httputil.HTTPMessageDelegate:
        return RequestGuard(super().start_request(server_conn, request_conn), request_conn, self.latency)


# -- application ------------------------------------------------------------------------------


def make_app(state: EmulatorState) -> Application:
    kw = {"state": state}
    return Application(
        [
            *iam_routes(state),
            *modelarts_routes(state),
            *notebook_routes(state),
            *metadata_routes(state.metadata),
            *swr_routes(state),
        ],
        default_handler_class=NotFoundHandler,
        default_handler_args=kw,
        compress_response=False,
    )


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(settings: EmulatorSettings, out: TextIO = sys.stdout) -> None:
    """Run until SIGTERM/SIGINT; print the ready line once the socket accepts connections."""
    store = ImageStore(settings.data_dir)
    try:
        registry = "swr." + settings.region + ".myhuaweicloud.com"
        store.install_presets(registry, now_ms())
        if settings.seed_images > 0:
            added = store.seed_images(
                settings.project_id,
                settings.seed_images,
                registry=registry,
                now_ms=now_ms(),
            )
            log.warning("seeded %d benchmark images (%d new)", settings.seed_images, added)
        state = EmulatorState(settings, store)
        install_notebooks(state, now_ms())
        sockets = bind_sockets(settings.port, address=settings.host, family=socket.AF_UNSPEC)
        server = GuardedHTTPServer(
            make_app(state), max_body_size=DRAIN_BODY_BYTES, max_header_size=TORNADO_MAX_HEADER_BYTES
        )
        server.latency = settings.latency
        server.add_sockets(sockets)
        port = int(sockets[0].getsockname()[1])
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(READY_PREFIX + _url(settings.host, port), file=out, flush=True)
        await stop.wait()
        server.stop()
        await server.close_all_connections()
    finally:
        store.close()
