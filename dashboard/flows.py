"""A job's place in a flow: its ancestors and its children, as a tree, read
from BullMQ's dependency keys (``:dependencies`` pending, ``:processed``
done, ``:failed`` ignored failures, ``:unsuccessful`` failed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from queuecore import Connection
from queuecore.connection import Call, Pipeline

MAX_CHILDREN = 50  # per job shown; the rest are counted
MAX_DEPTH = 3


@dataclass
class Node:
    key: str
    queue: str | None  # None: under another prefix, shown without a link
    job_id: str
    status: str  # pending, processed, failed, ignored
    children: list[Node] = field(default_factory=list)
    more: int = 0


def split_key(prefix: str, key: str) -> tuple[str | None, str]:
    head = prefix + ":"
    if key.startswith(head) and ":" in key[len(head):]:
        queue, job_id = key[len(head):].split(":", 1)
        return queue, job_id
    return None, key


def _run(conn: Connection, calls: list[Call]) -> list[Any]:
    def op() -> Any:
        return (yield Pipeline(calls))
    return conn.run(op()) if calls else []


def children(conn: Connection, prefix: str, job_key: str, depth: int = 0) -> tuple[list[Node],
                                                                                   int]:
    """The children of a job (and theirs, down to MAX_DEPTH), with how many were left out."""
    pending, processed, ignored, failed = _run(conn, [
        Call(("SMEMBERS", job_key + ":dependencies")),
        Call(("HKEYS", job_key + ":processed")),
        Call(("HKEYS", job_key + ":failed")),
        Call(("ZRANGE", job_key + ":unsuccessful", 0, -1)),
    ])
    nodes: list[Node] = []
    total = 0
    for status, keys in (("failed", failed), ("pending", pending), ("ignored", ignored),
                         ("processed", processed)):
        for key in sorted(keys):
            total += 1
            if len(nodes) < MAX_CHILDREN:
                queue, job_id = split_key(prefix, key)
                nodes.append(Node(key, queue, job_id, status))
    if depth + 1 < MAX_DEPTH:
        for node in nodes:
            node.children, node.more = children(conn, prefix, node.key, depth + 1)
    return nodes, total - len(nodes)


def ancestors(conn: Connection, prefix: str, parent_key: str | None) -> list[Node]:
    """The chain of parents, nearest first (at most MAX_DEPTH)."""
    chain: list[Node] = []
    while parent_key and len(chain) < MAX_DEPTH:
        queue, job_id = split_key(prefix, parent_key)
        chain.append(Node(parent_key, queue, job_id, "parent"))
        parent_key = _run(conn, [Call(("HGET", parent_key, "parentKey"))])[0]
    return chain
