"""A job's place in a flow: its ancestors and its children, as a tree, read
from BullMQ's dependency keys (``:dependencies`` pending, ``:processed``
done, ``:failed`` ignored failures, ``:unsuccessful`` failed)."""

from __future__ import annotations

from dataclasses import dataclass, field

from queuecore import Connection
from queuecore.flow import CHILD_STATUSES, child_key_calls

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


def children(conn: Connection, prefix: str, job_key: str) -> tuple[list[Node], int]:
    """The children of a job (and theirs, down to MAX_DEPTH), with how many were
    left out: one round trip per level of the tree."""
    root = Node(job_key, None, "", "root")
    level = [root]
    n = len(CHILD_STATUSES)
    for _ in range(MAX_DEPTH):
        if not level:
            break
        replies = conn.execute_many([call for node in level
                                     for call in child_key_calls(node.key)])
        below: list[Node] = []
        for i, node in enumerate(level):
            total = 0
            for status, keys in zip(CHILD_STATUSES, replies[n * i:n * i + n], strict=True):
                for key in sorted(keys):
                    total += 1
                    if len(node.children) < MAX_CHILDREN:
                        queue, job_id = split_key(prefix, key)
                        node.children.append(Node(key, queue, job_id, status))
            node.more = total - len(node.children)
            below += node.children
        level = below
    return root.children, root.more


def ancestors(conn: Connection, prefix: str, parent_key: str | None) -> list[Node]:
    """The chain of parents, nearest first (at most MAX_DEPTH)."""
    chain: list[Node] = []
    while parent_key and len(chain) < MAX_DEPTH:
        queue, job_id = split_key(prefix, parent_key)
        chain.append(Node(parent_key, queue, job_id, "parent"))
        parent_key = conn.execute("HGET", parent_key, "parentKey")
    return chain
