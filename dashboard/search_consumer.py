"""The search socket: runs one search and streams what it finds into the
page as htmx out-of-band swaps (rows appended with the job row partial, the
progress line replaced), then closes. A "stop" message from the page's Stop
button ends it between two chunks; closing the page or starting another
search closes the socket, which ends it too. On a reconnect the search starts
again from an emptied table, as the live pages resend their whole state."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async

from queuecore import Job
from queuecore.errors import InvalidOptionError
from queuecore.search import CHUNK, SearchProgress, SearchQuery

from . import contexts, search
from .consumers import LiveConsumer
from .queues import REFUSED

ROWS_EVERY_S = 0.1  # matches found meanwhile go out together (the first at once)
PROGRESS_EVERY_S = 0.25  # the progress line, at most four times a second


class SearchConsumer(LiveConsumer):
    query: SearchQuery | None
    error: str
    chunk = CHUNK  # jobs looked at per Lua call

    def setup(self) -> None:
        self.queue = contexts.queue_or_404(self.conf, self.scope["url_route"]["kwargs"]["name"])
        params = {k: v[0] for k, v in parse_qs(self.scope.get("query_string", b"").decode(),
                                                keep_blank_values=True).items()}
        self.stopping = False  # set by the Stop button, read between chunks
        try:
            self.query, self.error = search.query_from(params), ""
        except InvalidOptionError as exc:
            self.query, self.error = None, str(exc)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = json.loads(text_data or "{}")
        except ValueError:
            return
        if isinstance(message, dict) and message.get("stop"):
            self.stopping = True

    async def follow(self) -> None:
        """Not the events stream: this socket's work is the search."""
        if self.query is None:
            await self.send(text_data=search.render_progress(self.error, False, oob=True))
            await self.close()
            return
        query, name = self.query, self.queue.name
        await self.send(text_data=search.render_rows(name, [], self.user, reset=True))
        job_search = search.job_search(self.queue, query, self.user, self.conf, chunk=self.chunk,
                                       limit=search.MAX_RESULTS)
        pending: list[tuple[Job, str]] = []
        progress: SearchProgress | None = None
        last_rows = last_progress = 0.0
        while not job_search.done and not self.stopping:
            try:
                progress = await self.queue.connection.arun(job_search.step())
            except REFUSED as exc:  # Redis went away, or a key of the wrong type: say so
                await self.send(text_data=search.render_progress(
                    f"Search failed: {exc}", False, oob=True))
                await self.close()
                return
            pending += progress.jobs
            now = time.monotonic()
            if pending and (now - last_rows >= ROWS_EVERY_S or job_search.done):
                await self._send_rows(name, pending)
                pending, last_rows = [], now
            if now - last_progress >= PROGRESS_EVERY_S and not job_search.done:
                await self.send(text_data=search.render_progress(
                    search.progress_text(progress, query), True, oob=True))
                last_progress = now
        if pending:
            await self._send_rows(name, pending)
        stopped = not job_search.done
        await self.send(text_data=search.render_progress(
            search.progress_text(progress or job_search.progress([], query.states[0]), query,
                                 stopped=stopped), False, oob=True))
        await self.close()  # 1000: htmx does not reconnect

    async def _send_rows(self, name: str, found: list[tuple[Job, str]]) -> None:
        html = await sync_to_async(search.render_rows, thread_sensitive=False)(
            name, found, self.user)
        await self.send(text_data=html)
