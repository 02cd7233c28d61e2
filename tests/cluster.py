"""A three-master Redis Cluster on loopback, for the cluster tests.

Built from ``EmbeddedRedis`` (the same server binary as the rest of the
tests) and joined with ``<cli> --cluster create``.
"""

from __future__ import annotations

import random
import socket
import subprocess
import time
from pathlib import Path

import redis

from queuecore.embedded import EmbeddedRedis, cli_binary

BUS_OFFSET = 10_000  # a cluster node also listens on port + 10000 (the cluster bus)


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port(taken: set[int]) -> int:
    """A port that is free, and whose cluster bus port (port + 10000) is free too."""
    for _ in range(1000):
        port = random.randint(20_000, 55_000)
        if port in taken or port + BUS_OFFSET in taken:
            continue
        if _bindable(port) and _bindable(port + BUS_OFFSET):
            return port
    raise RuntimeError("no free port pair for a cluster node")


class LocalCluster:
    """``masters`` cluster nodes without replicas: ``cluster.url`` is the
    ``redis+cluster://`` URL queuecore takes."""

    def __init__(self, base_dir: Path, masters: int = 3, node_timeout_ms: int = 2000) -> None:
        self.base_dir = Path(base_dir)
        self.masters = masters
        self.node_timeout_ms = node_timeout_ms
        self.nodes: list[EmbeddedRedis] = []

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def clients(self) -> list[redis.Redis]:
        """One plain (non-cluster) client per node; the caller closes them."""
        return [redis.Redis(port=n.port, decode_responses=True) for n in self.nodes]

    def start(self, timeout: float = 60.0) -> LocalCluster:
        taken: set[int] = set()
        try:
            for i in range(self.masters):
                port = cluster_port(taken)
                taken.add(port)
                node = EmbeddedRedis(
                    self.base_dir / f"node{i}", port, appendonly=False,
                    extra_args=("--cluster-enabled", "yes",
                                "--cluster-config-file", "nodes.conf",
                                "--cluster-node-timeout", str(self.node_timeout_ms)))
                node.start()
                self.nodes.append(node)
            created = subprocess.run(
                [cli_binary(), "--cluster", "create",
                 *(f"127.0.0.1:{n.port}" for n in self.nodes),
                 "--cluster-replicas", "0", "--cluster-yes"],
                capture_output=True, text=True, timeout=timeout, check=False)
            if created.returncode != 0:
                raise RuntimeError(f"cluster create failed:\n{created.stdout}\n{created.stderr}")
            self._wait_ok(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ok(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        clients = self.clients()
        try:
            for client in clients:
                while True:
                    info = client.execute_command("CLUSTER", "INFO")
                    if isinstance(info, dict):
                        ok = info.get("cluster_state") == "ok"
                    else:
                        ok = "cluster_state:ok" in info
                    if ok:
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"cluster not ok on port {client}: {info}")
                    time.sleep(0.05)
        finally:
            for client in clients:
                client.close()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        self.nodes = []

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
