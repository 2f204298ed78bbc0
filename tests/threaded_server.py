"""An app served by uvicorn on 127.0.0.1 in a thread of the test process: real HTTP for
the official SDK, with the app's objects (engine, store) still at hand for assertions."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from tests.live_server import free_port


@contextmanager
def serve_in_thread(app, timeout_s: float = 30) -> Iterator[str]:
    """Serve `app` until the block ends; yields the base URL ("http://127.0.0.1:PORT")."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)
