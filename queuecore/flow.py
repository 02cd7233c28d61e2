"""``FlowProducer``: a tree of jobs, possibly over several queues, added in one
call. Each parent waits in ``waiting-children`` until its children are done;
the links are BullMQ's (a child's ``parentKey``/``parent`` fields, the
parent's ``:dependencies``, ``:processed``, ``:failed`` and ``:unsuccessful``
keys), so Node BullMQ runs and reads the same flows.

In a Redis Cluster every queue of a flow must share one hash tag, which is
done by giving them one prefix with a tag, such as ``prefix="{orders}"``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import options as job_options
from . import scripts
from .connection import Connection
from .driver import Call, Op, Pipeline, twin
from .errors import InvalidOptionError
from .job import Job
from .keys import CHILD_KEYS
from .options import shown
from .queue import Queue, job_opts
from .reads import child_key_calls

NODE_KEYS = {"name", "queue_name", "data", "opts", "children", "prefix"}
# A parent's children by status, in the order child_key_calls reads them:
# failed (failed the parent), pending, ignored (failure ignored), processed.
CHILD_STATUSES = tuple(status for status, _, _ in CHILD_KEYS)


@dataclass
class JobNode:
    """A job of a flow and its children."""

    job: Job
    children: list[JobNode] = field(default_factory=list)


@dataclass
class _Planned:
    queue: Queue
    encoded: scripts.EncodedJob
    stored: dict[str, Any]
    data: Any
    children: list[_Planned]


class FlowProducer:
    """Adds flows: ``add({"name", "queue_name", "data", "opts", "children": [...]})``.

    Nodes without ``opts["job_id"]`` get a random UUID, as in BullMQ, so that
    children can name their parent before anything is written."""

    def __init__(self, connection: Any = None, *, prefix: str = "bull") -> None:
        self.connection = connection if isinstance(connection, Connection) \
            else Connection(connection)
        self.prefix = prefix
        self._queues: dict[tuple[str, str], Queue] = {}

    def __repr__(self) -> str:
        return f"<FlowProducer prefix={self.prefix!r}>"

    def _queue(self, name: str, prefix: str | None = None) -> Queue:
        key = (prefix or self.prefix, name)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = Queue(name, self.connection, prefix=key[0])
        return queue

    def _plan(self, node: Any, parent: _Planned | None, where: str) -> _Planned:
        if not isinstance(node, dict):
            raise InvalidOptionError(f"flow node {where} must be a dict, not {shown(node)}")
        unknown = set(node) - NODE_KEYS
        if unknown:
            raise InvalidOptionError(
                f"flow node {where} has unknown keys {sorted(unknown)}; "
                f"known: {', '.join(sorted(NODE_KEYS))}")
        for required in ("name", "queue_name"):
            if not isinstance(node.get(required), str) or not node[required]:
                raise InvalidOptionError(f"flow node {where} needs a {required!r} string")
        children = node.get("children") or []
        if not isinstance(children, list | tuple):
            raise InvalidOptionError(f"flow node {where}: children must be a list")
        queue = self._queue(node["queue_name"], node.get("prefix"))
        opts = job_opts(node.get("opts"), f"flow node {where}")
        if parent is not None:
            if opts.get("parent"):
                raise InvalidOptionError(
                    f"flow node {where} is a child: its parent is the node above it")
            opts["parent"] = {"id": parent.encoded.job_id,
                              "queue": parent.queue.keys.qualified}
        if children:
            opts.setdefault("job_id", str(uuid.uuid4()))
        encoded, stored = queue._encode(node["name"], node.get("data"), opts)
        if children:
            if stored.get("repeat") or stored.get("de"):
                raise InvalidOptionError(
                    f"flow node {where} has children: it may not repeat or be deduplicated")
            encoded.waiting_children = True
        encoded.queue_base = queue.keys.base
        planned = _Planned(queue, encoded, stored, node.get("data"), [])
        planned.children = [self._plan(child, planned, f"{where}.children[{i}]")
                            for i, child in enumerate(children)]
        return planned

    def _flatten(self, planned: _Planned, out: list[_Planned]) -> None:
        out.append(planned)  # parents before their children: add_job needs them first
        for child in planned.children:
            self._flatten(child, out)

    def _add_trees(self, trees: Sequence[Any]) -> Op[list[JobNode]]:
        roots = [self._plan(tree, None, f"[{i}]") for i, tree in enumerate(trees)]
        flat: list[_Planned] = []
        for root in roots:
            self._flatten(root, flat)
        if not flat:
            return []
        encoded = [p.encoded for p in flat]
        reply = yield scripts.add_jobs(flat[0].queue.keys, encoded)
        ids = iter(scripts.check_added(reply, encoded))

        def build(planned: _Planned) -> JobNode:
            job = planned.queue._job_from(next(ids), planned.encoded, planned.stored,
                                          planned.data)
            return JobNode(job, [build(child) for child in planned.children])

        return [build(root) for root in roots]

    def _add(self, tree: dict[str, Any]) -> Op[JobNode]:
        """Add one flow; returns its tree of jobs. All of it is stored, or none."""
        nodes = yield from self._add_trees([tree])
        return nodes[0]

    add, aadd = twin(_add)

    def _add_bulk(self, trees: Sequence[dict[str, Any]]) -> Op[list[JobNode]]:
        """Add several flows in one atomic call."""
        return (yield from self._add_trees(list(trees)))

    add_bulk, aadd_bulk = twin(_add_bulk)

    def _get_flow(self, job_id: str, queue_name: str, *, prefix: str | None = None,
                  depth: int = 10, max_children: int = 1000) -> Op[JobNode | None]:
        """The flow under a job, read back: the job and its children (completed,
        pending, ignored and failed alike) down to ``depth`` levels, at most
        ``max_children`` per job. None when the job does not exist."""
        job_options.check_int("depth", depth, 1)
        job_options.check_int("max_children", max_children, 1)
        queue = self._queue(queue_name, prefix)
        raw = yield Call(("HGETALL", queue.keys.job(str(job_id))))
        if not raw:
            return None
        root = JobNode(Job(queue, str(job_id), raw))
        level = [root]
        for _ in range(depth - 1):
            if not level:
                break
            replies = yield Pipeline([call for node in level
                                      for call in child_key_calls(node.job.key)])
            n = len(CHILD_STATUSES)
            wanted: list[tuple[JobNode, Queue, str, str]] = []
            for i, node in enumerate(level):
                keys = sorted({k for group in replies[n * i:n * i + n] for k in group})
                for key in keys[:max_children]:
                    child_queue, child_id = self._split(key, node.job.queue)
                    wanted.append((node, child_queue, child_id, key))
            hashes = yield Pipeline([Call(("HGETALL", key)) for _, _, _, key in wanted])
            level = []
            for (node, child_queue, child_id, _), raw in zip(wanted, hashes, strict=True):
                if raw:  # a child removed by its retention is left out
                    child = JobNode(Job(child_queue, child_id, raw))
                    node.children.append(child)
                    level.append(child)
        return root

    get_flow, aget_flow = twin(_get_flow)

    def _split(self, key: str, near: Queue) -> tuple[Queue, str]:
        # a child key is "<prefix>:<queue>:<id>"; prefixes may hold ":" only in
        # a hash tag, so the queue is known when the key starts with a known prefix
        for prefix in {near.prefix, self.prefix}:
            head = prefix + ":"
            if key.startswith(head) and ":" in key[len(head):]:
                name, job_id = key[len(head):].split(":", 1)
                return self._queue(name, prefix), job_id
        head, job_id = key.rsplit(":", 1)
        prefix, name = head.rsplit(":", 1)
        return self._queue(name, prefix), job_id

    def close(self) -> None:
        self.connection.close()

    async def aclose(self) -> None:
        await self.connection.aclose()

    def __enter__(self) -> FlowProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> FlowProducer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
