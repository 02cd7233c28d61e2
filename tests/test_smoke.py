from queuecore import Queue


def test_add_and_count(queue: Queue) -> None:
    job = queue.add("hello", {"x": 1})
    assert job.id == "1"
    assert queue.get_job_counts("waiting")["waiting"] == 1
