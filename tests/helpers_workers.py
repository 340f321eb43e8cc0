"""Drive cache workers in separate OS processes (``tests/coherence_worker.py``)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


class Worker:
    """One worker process with a stack of its own on a shared Redis."""

    def __init__(self, overrides: dict[str, Any]) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.coherence_worker", json.dumps(overrides)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ready = self._next(timeout=30)
        if "ready" not in self.ready:
            raise RuntimeError(f"worker did not start: {self.ready}")
        self.pid: int = self.ready["pid"]

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)

    def _next(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"worker {self.proc.pid} answered nothing in {timeout}s") from None
        result: dict[str, Any] = json.loads(line)
        return result

    def send(self, op: str, **args: Any) -> None:
        """Send a command without waiting for its answer (``answer`` reads it)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()

    def answer(self, timeout: float = 30) -> dict[str, Any]:
        """The answer to the oldest command sent and not yet answered."""
        reply = self._next(timeout)
        if "error" in reply:
            raise AssertionError(f"worker {self.proc.pid}: {reply['error']}")
        return reply

    def call(self, op: str, **args: Any) -> Any:
        """Run one command; its value."""
        self.send(op, **args)
        return self.answer()["value"]

    def kill(self) -> None:
        """SIGKILL the worker (as a crash would)."""
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("exit")
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def within(seconds: float, check: Callable[[], bool], *, pause: float = 0.002) -> float:
    """Seconds until ``check()`` holds; AssertionError when it does not within ``seconds``."""
    started = time.monotonic()
    while True:
        if check():
            return time.monotonic() - started
        elapsed = time.monotonic() - started
        if elapsed > seconds:
            raise AssertionError(f"not within {seconds * 1000:.0f} ms")
        time.sleep(pause)
