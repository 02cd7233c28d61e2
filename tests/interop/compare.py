"""Comparison of one job as Node BullMQ reads it and as queuecore reads it."""

from __future__ import annotations

from typing import Any

from queuecore import Job

# Node Job attribute -> queuecore Job attribute
FIELDS = {
    "id": "id",
    "name": "name",
    "data": "data",
    "progress": "progress",
    "returnvalue": "returnvalue",
    "attemptsMade": "attempts_made",
    "attemptsStarted": "attempts_started",
    "stalledCounter": "stalled_counter",
    "timestamp": "timestamp",
    "processedOn": "processed_on",
    "finishedOn": "finished_on",
    "failedReason": "failed_reason",
    "stacktrace": "stacktrace",
    "delay": "delay",
    "priority": "priority",
}


def assert_same_job(node_job: dict[str, Any] | None, job: Job | None,
                    state: str | None = None) -> None:
    """Every field Node reads equals queuecore's; the states agree too."""
    assert node_job is not None, "Node does not find the job"
    assert job is not None, "queuecore does not find the job"
    mismatches = {
        node_name: (node_job[node_name], getattr(job, qc_name))
        for node_name, qc_name in FIELDS.items()
        if node_job[node_name] != getattr(job, qc_name)
    }
    assert not mismatches, f"job {job.id}: Node and queuecore differ (node, queuecore): " \
                           f"{mismatches}"
    qc_state = job.get_state()
    assert node_job["state"] == qc_state
    if state is not None:
        assert qc_state == state
