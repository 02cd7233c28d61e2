"""A TCP proxy in front of a real Redis that cuts a connection right after a
chosen command went through: the server runs it, its reply never arrives.
That is what a network cut or a killed client connection does to a caller."""

from __future__ import annotations

import socket
import threading
import time


class CutProxy:
    """``with CutProxy(port) as proxy: proxy.url``; ``proxy.cut_after(b"...")``
    arms it: the next client command containing those bytes is passed on, the
    server's replies are dropped for ``hold`` seconds (so the command surely
    ran), then that connection is closed on both sides."""

    def __init__(self, target_port: int, hold: float = 0.3) -> None:
        self.target_port = target_port
        self.hold = hold
        self.cuts = 0  # connections cut so far
        self._armed: bytes | None = None
        self._hold: tuple[bytes, bytes] | None = None
        self.holding = threading.Event()  # a held command is waiting
        self.cutting = threading.Event()  # the armed command went through
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stopped = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def cut_after(self, needle: bytes) -> None:
        with self._lock:
            self._armed = needle

    def hold_between(self, first: bytes, until: bytes) -> None:
        """Hold back the next command containing ``first`` (and what follows
        it) until a command containing ``until`` comes: then send them all,
        in order. A slow network does that to a burst of pipelined calls."""
        with self._lock:
            self._hold = (first, until)

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            state = {"dropping": False}
            threading.Thread(target=self._pump_up, args=(client, upstream, state),
                             daemon=True).start()
            threading.Thread(target=self._pump_down, args=(upstream, client, state),
                             daemon=True).start()

    def _pump_up(self, client: socket.socket, upstream: socket.socket,
                 state: dict[str, bool]) -> None:
        held: list[bytes] = []
        try:
            while data := client.recv(65536):
                with self._lock:
                    if self._hold is not None and self._hold[0] in data:
                        held.append(data)
                        self.holding.set()
                        continue
                    if held:
                        held.append(data)
                        if self._hold is not None and self._hold[1] not in data:
                            continue
                        data, held, self._hold = b"".join(held), [], None
                    hit = self._armed is not None and self._armed in data
                    if hit:
                        self._armed = None
                        state["dropping"] = True  # before its reply can come back
                        self.cutting.set()
                upstream.sendall(data)
                if hit:
                    time.sleep(self.hold)
                    self.cuts += 1
                    break
        except OSError:
            pass
        for sock in (client, upstream):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    @staticmethod
    def _pump_down(upstream: socket.socket, client: socket.socket,
                   state: dict[str, bool]) -> None:
        try:
            while data := upstream.recv(65536):
                if not state["dropping"]:
                    client.sendall(data)
        except OSError:
            pass

    def __enter__(self) -> CutProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped = True
        self._server.close()
