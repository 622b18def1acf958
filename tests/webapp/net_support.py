"""A TCP relay between the browser and the server that a test can cut, as a network drop would: open connections
(the page's event stream among them) are reset, new ones refused, until the test restores it on the same port.

Chromium's own offline emulation fails new requests only; an open stream goes on reading through it."""
from __future__ import annotations

import socket
import struct
import threading

from tests.webapp.asgi_support import free_port


class CuttableRelay:
    """Relays 127.0.0.1:``port`` to the server at ``target_port``; :meth:`cut` drops everything, :meth:`restore`
    listens again."""

    def __init__(self, target_port: int):
        self.port = free_port()
        self.target_port = target_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> "CuttableRelay":
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def cut(self) -> None:
        """The network goes away: the listener closes (new connections refused) and every open one is reset."""
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (a close alone would not, on Linux)
            except OSError:
                pass
            listener.close()
        with self._lock:
            sockets, self._open = self._open, set()
        for s in sockets:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
                s.shutdown(socket.SHUT_RDWR)  # wakes the relay's thread reading it (a close alone would not)
            except OSError:
                pass
            s.close()

    def restore(self) -> None:
        self.start()

    stop = cut

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            with self._lock:
                self._open.difference_update((source, sink))
