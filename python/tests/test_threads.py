"""The GIL is released during analysis (and while a References is built):
another Python thread keeps running.

A helper thread records a timestamp about every millisecond. If the GIL were
held while Rust works, it could only run just before the call enters Rust
and just after it returns, so no timestamp would fall in the middle of the
call. With the GIL released, timestamps cover the whole call.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import threading
import time
from typing import Any, Callable

import numpy as np
import pytest

import trueshot
from conftest import make_pixels, png_bytes, summary


def stamps_during(call: Callable[[], object]) -> tuple[int, float]:
    """Run `call` while a thread stamps the time; return the number of stamps
    in the middle 60% of the call, and the call's duration in seconds."""
    stamps: list[float] = []
    stop = threading.Event()

    def stamp() -> None:
        while not stop.is_set():
            stamps.append(time.perf_counter())
            time.sleep(0.001)

    thread = threading.Thread(target=stamp)
    thread.start()
    try:
        time.sleep(0.02)  # let the thread get going
        start = time.perf_counter()
        call()
        end = time.perf_counter()
    finally:
        stop.set()
        thread.join()
    low, high = start + 0.2 * (end - start), start + 0.8 * (end - start)
    return sum(low < t < high for t in stamps), end - start


def test_thread_runs_during_analyze() -> None:
    # A large PNG (3072 x 3072): decoding and analysing it takes a while.
    data = png_bytes(np.tile(make_pixels(256, 256, 3), (12, 12, 1)))
    middle, elapsed = stamps_during(lambda: trueshot.analyze(data))
    # The check means something only if the call is long against a time slice.
    assert elapsed > 0.05, f"analysis took only {elapsed * 1e3:.1f} ms"
    # Expect one stamp per ~1 ms of the middle window; ask for far fewer so a
    # loaded machine passes. A held GIL gives 0.
    assert middle >= 5, f"{middle} stamps in the middle of a {elapsed * 1e3:.0f} ms call"


def test_thread_runs_during_analyze_many() -> None:
    data = png_bytes(np.tile(make_pixels(256, 256, 3), (6, 6, 1)))  # 1536 x 1536
    middle, elapsed = stamps_during(lambda: trueshot.analyze_many([data] * 4, threads=2))
    assert elapsed > 0.05, f"analysis took only {elapsed * 1e3:.1f} ms"
    assert middle >= 5, f"{middle} stamps in the middle of a {elapsed * 1e3:.0f} ms call"


def test_thread_runs_during_references() -> None:
    # Reading and indexing a listing photo is a decode and a few resizes.
    data = png_bytes(np.tile(make_pixels(256, 256, 3), (12, 12, 1)))  # 3072 x 3072
    middle, elapsed = stamps_during(lambda: trueshot.References([data, data]))
    assert elapsed > 0.05, f"indexing took only {elapsed * 1e3:.1f} ms"
    assert middle >= 5, f"{middle} stamps in the middle of a {elapsed * 1e3:.0f} ms call"


def test_analyze_many_under_a_memory_budget_gives_the_same_results(tmp_path: Any) -> None:
    # Files are read and each image admitted on the calling thread; a 1 MB
    # budget admits one image here at a time (each is estimated at 0.65 MB
    # or more). threads=None with a budget runs in a pool of the call's own.
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes(make_pixels(300, 400, 3, seed=1)))
    images: list[Any] = [
        str(path),
        png_bytes(make_pixels(200, 260, 3, seed=2)),
        make_pixels(180, 240, 3, seed=3),
        b"not an image",
        str(tmp_path / "missing.png"),
    ]

    def outcome(**kwargs: Any) -> list[Any]:
        results = trueshot.analyze_many(images, threads=2, return_exceptions=True, **kwargs)
        return [
            type(r).__name__ if isinstance(r, Exception) else summary(r) for r in results
        ]

    free = outcome()
    assert free[3:] == ["UnsupportedFormatError", "FileNotFoundError"], free
    assert outcome(max_memory_mb=1) == free
    assert outcome(max_memory_mb=4096) == free
    default_pool = trueshot.analyze_many(images, return_exceptions=True, max_memory_mb=64)
    assert [type(r).__name__ if isinstance(r, Exception) else summary(r)
            for r in default_pool] == free
    with pytest.raises(trueshot.InvalidConfigError):
        trueshot.analyze_many(images, max_memory_mb=0)


def test_calls_on_two_threads_share_a_memory_budget() -> None:
    # Each image is estimated at about 0.78 MB (its PNG plus 15 bytes a
    # pixel): two fit in a 2 MB budget together, three do not. The two
    # calls admit their images against the one budget, and give the same
    # results as without it.
    images = [png_bytes(make_pixels(200, 260, 3, seed=s)) for s in range(6)]
    halves = [images[:3], images[3:]]
    free = [[summary(r) for r in trueshot.analyze_many(h, threads=1)] for h in halves]

    budget = trueshot.MemoryBudget(2)
    assert (budget.megabytes, budget.peak_bytes) == (2, 0)
    assert repr(budget) == "MemoryBudget(2 MB)"
    shared: list[Any] = [None, None]

    def run(i: int) -> None:
        reports = trueshot.analyze_many(halves[i], threads=1, memory_budget=budget)
        shared[i] = [summary(r) for r in reports]

    workers = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert shared == free
    # Admission happened on the shared budget (that the calls stay within
    # it together is the library's test, which can watch the work).
    assert budget.peak_bytes > 700_000, budget.peak_bytes


def test_a_memory_budget_is_checked_and_shared_not_copied() -> None:
    import copy
    import pickle

    budget = trueshot.MemoryBudget(64)
    assert copy.copy(budget) is budget and copy.deepcopy(budget) is budget
    with pytest.raises(TypeError, match="pickle"):
        pickle.dumps(budget)
    bad: list[Any] = [0, -1, (1 << 24) + 1, 1 << 70, True, 1.5, "64"]
    for megabytes in bad:
        with pytest.raises(trueshot.InvalidConfigError, match="megabytes"):
            trueshot.MemoryBudget(megabytes)
    with pytest.raises(trueshot.InvalidConfigError, match="max_memory_mb"):
        trueshot.analyze_many([], max_memory_mb=True)
    with pytest.raises(trueshot.InvalidConfigError, match="not both"):
        trueshot.analyze_many([], max_memory_mb=64, memory_budget=budget)



# Sends the process Ctrl-C (SIGINT) one second into a long call and reports
# whether KeyboardInterrupt came, and when. A child process, so that the
# signal cannot reach pytest itself.
INTERRUPTED_CALL = """
import json, os, signal, sys, threading, time
import trueshot

path, call = sys.argv[1], sys.argv[2]
paths = [path] * 3000
threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
start = time.perf_counter()
try:
    if call == "references":
        trueshot.References(paths)
    elif call == "budget":
        trueshot.analyze_many(paths, threads=1, max_memory_mb=64)
    else:
        trueshot.analyze_many(paths, threads=int(call))
    interrupted = False
except KeyboardInterrupt:
    interrupted = True
print(json.dumps({"interrupted": interrupted, "seconds": time.perf_counter() - start}))
"""


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT with os.kill")
@pytest.mark.parametrize("call", ["0", "1", "budget", "references"])
def test_ctrl_c_stops_a_long_batch(tmp_path: pathlib.Path, call: str) -> None:
    # 3000 analyses of a 512 x 512 photo take a minute or more (about 50 ms
    # each on one core); Ctrl-C must stop the batch within seconds, once
    # the images already started finish, as Python code would stop.
    path = tmp_path / "photo.png"
    path.write_bytes(png_bytes(make_pixels(512, 512, 3)))
    child = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_CALL, str(path), call],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout)
    assert result["interrupted"], result
    assert result["seconds"] < 10, f"Ctrl-C took effect after {result['seconds']:.1f} s"
