"""Reading BullMQ's fixed-window rate limit back from job start times."""

from __future__ import annotations


def fixed_windows(starts: list[int], duration: int) -> list[list[int]]:
    """Group start times (ms) into the limiter's fixed windows.

    A window opens with the first start after the previous one expired (the
    start whose INCR created the limiter key, which expires ``duration`` ms
    later), so windows are not aligned to any clock and there is no window
    between them. A sliding window of ``duration`` may hold up to twice the
    max (the end of one window and the start of the next); a fixed one may not.
    """
    windows: list[list[int]] = []
    for start in sorted(starts):
        if windows and start < windows[-1][0] + duration:
            windows[-1].append(start)
        else:
            windows.append([start])
    return windows


def check_fixed_windows(starts: list[int], max_jobs: int, duration: int,
                        jitter: int = 50) -> list[list[int]]:
    """Assert that no fixed window holds more than ``max_jobs`` starts; returns the windows.

    ``processedOn`` is the worker's clock just before its fetch reaches Redis,
    so a start that opened a new window may read up to the call's latency
    earlier than the expiry it followed: windows are grouped by
    ``duration - jitter``, which only ever splits a window sooner.
    """
    windows = fixed_windows(starts, duration - jitter)
    first = min(starts)
    for window in windows:
        assert len(window) <= max_jobs, (
            f"{len(window)} starts in one window of {duration} ms (max {max_jobs}); "
            f"windows, in ms from the first start: {[[t - first for t in w] for w in windows]}")
    return windows
