"""A throwaway ``redis-server`` process for tests: free port, temp dir, full control.

Tests kill, pause, restart and reconfigure it (TLS, ACL, maxmemory); it never touches a
server it did not start.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tests.helpers_net import free_port  # also imported from here by the integration tests


def redis_binary() -> str | None:
    """Path of redis-server, or None when it is not installed."""
    return shutil.which("redis-server")


class RedisServer:
    """One redis-server process on its own port and directory."""

    def __init__(
        self,
        args: Sequence[str] = (),
        *,
        port: int | None = None,
        tls: bool = False,
        config: str | None = None,
    ) -> None:
        binary = redis_binary()
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.binary = binary
        self.port = port or free_port()
        self.args = list(args)
        self.tls = tls
        self.dir = Path(tempfile.mkdtemp(prefix="cachekit-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None
        # A config file written into the server's directory (a sentinel rewrites its own).
        self.config = self.dir / "redis.conf" if config is not None else None
        if self.config is not None:
            self.config.write_text(config)

    @property
    def url(self) -> str:
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start the server and wait until its port accepts connections."""
        port_args = (
            ["--port", "0", "--tls-port", str(self.port)]
            if self.tls
            else ["--port", str(self.port)]
        )
        cmd = [
            self.binary,
            *([str(self.config)] if self.config is not None else []),
            *port_args,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
            "--logfile",
            str(self.dir / "redis.log"),
            *self.args,
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (self.dir / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}: {log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not listen on {self.port} within {timeout}s")

    def _signal(self, sig: signal.Signals) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL: the server dies at once, connections drop."""
        self._signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=5)

    def pause(self) -> None:
        """SIGSTOP: the server hangs with its connections open."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after ``pause``."""
        self._signal(signal.SIGCONT)

    def stop(self) -> None:
        """Terminate gracefully (resuming first if paused)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.resume()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def restart(self) -> RedisServer:
        """Stop (or notice a kill) and start again on the same port."""
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def version(self) -> str:
        """What ``redis-server --version`` prints."""
        out = subprocess.run(
            [self.binary, "--version"], capture_output=True, text=True, check=False
        )
        return out.stdout.strip()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
