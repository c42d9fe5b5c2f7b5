"""The ASGI layer: :func:`create_app` and the one endpoint every request goes through.

The endpoint reads the body (a client gone before its end gets nothing), then:

* a ``/_emulator/`` path goes to its control route (``urls.CONTROL_URLS``) and
  is answered at once;
* any other request is logged (redacted) and handed to ``faults.serve``, which
  applies latency and faults around the NIM's answer: the handler of its route
  (``urls.NIM_URLS``), or the cassette in replay mode. An
  :mod:`~nim_emulator.exceptions` error raised on the way is the answer.

The same app runs in-process (``httpx.ASGITransport``) and on a real socket
(``_server``, which puts a connection handle in the scope for the drops).
"""

from __future__ import annotations

import time

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from nim_emulator import faults, responses, urls
from nim_emulator._config import EmulatorConfig
from nim_emulator._wire import (
    CONNECTION_EXTENSION,
    ConnectionControl,
    Incoming,
    Reply,
    Wire,
    read_body,
)
from nim_emulator.exceptions import ControlError, NimError, PageNotFoundError
from nim_emulator.models import EmulatorState, RequestRecord

__all__ = ["create_app"]


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    """A new emulator app; its state is ``app.state.emulator`` (an :class:`EmulatorState`).

    Raises :class:`~nim_emulator.exceptions.CassetteError` when
    ``config.replay`` names a cassette that cannot be loaded.
    """
    state = EmulatorState(config or EmulatorConfig())
    app = Starlette(routes=[Route("/{path:path}", _Endpoint(state))])
    app.router.redirect_slashes = False
    app.state.emulator = state
    return app


class _Endpoint:
    """The ASGI app behind every path (module docstring)."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        received_at = time.monotonic()
        body = await read_body(receive)
        if body is None:
            return
        conn: ConnectionControl | None = scope.get("extensions", {}).get(CONNECTION_EXTENSION)
        request = Incoming(
            scope["method"],
            scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
            [
                (name.decode("latin-1").lower(), value.decode("latin-1"))
                for name, value in scope["headers"]
            ],
            body,
        )
        wire = Wire(receive, send, request.method, conn)
        if request.path.startswith(urls.CONTROL_PREFIX):
            await wire.reply(self._control(request))
            return
        record = self.state.log_request(
            request.method,
            request.path,
            request.query,
            request.headers,
            body,
            tcp_nodelay=conn.tcp_nodelay if conn is not None else None,
            received_at=received_at,
        )
        await faults.serve(
            self.state,
            record,
            wire,
            lambda: self._answer(request, record),
            reranking_route=urls.is_reranking_path(request.path),
        )

    def _control(self, request: Incoming) -> Reply:
        url = urls.control_url(request.method, request.path)
        try:
            if url is None:
                message = f"no control route {request.method} {request.path} (see docs/emulator.md)"
                raise ControlError(404, message)
            return url.handler(self.state, request)
        except NimError as error:
            return error.reply()

    def _answer(self, request: Incoming, record: RequestRecord) -> Reply:
        try:
            if self.state.cassette is not None:
                return responses.replay(self.state, request, record)
            found = urls.nim_url(request.method, request.path)
            if found is None:
                raise PageNotFoundError
            url, params = found
            if url.group is not None and not self.state.config.route_on(url.group):
                raise PageNotFoundError
            return url.handler(self.state, request, record, params)
        except NimError as error:
            return error.reply()
