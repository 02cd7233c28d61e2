import os

from queuecore import Job, processor

QUEUE = os.environ.get("RW_REGISTERED", "rw-registered")


@processor(QUEUE, name="greet")
async def greet(job: Job) -> str:
    return f"hello {job.data['who']}"
