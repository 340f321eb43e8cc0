"""Real Redis topologies for tests, on free ports in temp dirs: a Cluster and a Sentinel set.

``RedisCluster``: three primaries and three replicas (``redis-server --cluster-enabled yes``
joined by ``redis-cli --cluster create ... --cluster-replicas 1``), with a short
``cluster-node-timeout`` so a killed primary is replaced within about two seconds.
``SentinelSet``: a master, a replica and three sentinels (``redis-server <conf> --sentinel``
with a writable conf, quorum 2, short ``down-after-milliseconds``). Both are built on
``RedisServer``, never touch a server they did not start, and can heal after a test killed
one of their servers, so that a module can share one topology.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable

import redis

from tests.certs import TLSFiles
from tests.redis_server import RedisServer, free_port

NODE_TIMEOUT_MS = 500
"""``cluster-node-timeout``: a primary that is silent this long is failed over."""
DOWN_AFTER_MS = 500
"""``sentinel down-after-milliseconds``: a master silent this long is failed over."""
SERVICE = "mymaster"


def redis_cli() -> str | None:
    """Path of redis-cli (Debian's redis-tools), or None."""
    return shutil.which("redis-cli")


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``check`` every 20 ms until it is true; the seconds it took. Raises after
    ``timeout`` naming ``what``."""
    started = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - started
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"{what}: not within {timeout}s")
        time.sleep(0.02)


def _client(
    server: RedisServer, password: str | None = None, tls: TLSFiles | None = None
) -> redis.Redis:
    options: dict[str, object] = {}
    if tls is not None:
        options = {"ssl": True, "ssl_ca_certs": tls.ca}
    return redis.Redis(
        port=server.port, password=password, socket_timeout=1, socket_connect_timeout=1, **options
    )


def role(server: RedisServer, tls: TLSFiles | None = None) -> str:
    """``master``, ``slave`` (a replica) or ``down``."""
    try:
        with _client(server, tls=tls) as client:
            reply = client.execute_command("ROLE")
    except (redis.RedisError, OSError):
        return "down"
    first = reply[0]
    return first.decode() if isinstance(first, bytes) else str(first)


def _tls_args(tls: TLSFiles) -> list[str]:
    """TLS on the client port and on every link a server opens itself (replication, the
    cluster bus, a sentinel's links); clients need no certificate."""
    return [
        "--tls-replication", "yes",
        "--tls-cert-file", tls.server,
        "--tls-key-file", tls.server,
        "--tls-ca-cert-file", tls.ca,
        "--tls-auth-clients", "no",
    ]  # fmt: skip


class RedisCluster:
    """``primaries`` primaries with one replica each, on loopback (``tls``: TLS only, the
    cluster bus and replication included)."""

    def __init__(
        self,
        primaries: int = 3,
        *,
        node_timeout_ms: int = NODE_TIMEOUT_MS,
        tls: TLSFiles | None = None,
    ) -> None:
        self.tls = tls
        args = [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            str(node_timeout_ms),
            "--repl-diskless-sync-delay",
            "0",
        ]
        if tls is not None:
            args += ["--tls-cluster", "yes", *_tls_args(tls)]
        self.node_timeout = node_timeout_ms / 1000
        # The bus port defaults to port + 10000, which a free port above 55535 cannot have.
        self.nodes = [
            RedisServer([*args, "--cluster-port", str(free_port())], tls=tls is not None)
            for _ in range(primaries * 2)
        ]

    @property
    def url(self) -> str:
        """A ``redis+cluster://`` URL listing two seed nodes (``rediss+`` with TLS)."""
        seeds = ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[:2])
        return f"{'rediss' if self.tls else 'redis'}+cluster://{seeds}/0"

    def start(self) -> RedisCluster:
        for node in self.nodes:
            node.start()
        cli = redis_cli()
        if cli is None:
            raise RuntimeError("redis-cli is not installed (Debian's redis-tools)")
        addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
        tls = [] if self.tls is None else ["--tls", "--cacert", self.tls.ca]
        create = ["--cluster", "create", *addresses, "--cluster-replicas", "1", "--cluster-yes"]
        subprocess.run(
            [cli, *tls, *create],
            check=True,
            capture_output=True,
            timeout=30,
        )
        self.wait_healthy()
        return self

    def info(self, node: RedisServer) -> dict[str, str]:
        with _client(node, tls=self.tls) as client:
            text = client.execute_command("CLUSTER", "INFO")
        text = text.decode() if isinstance(text, bytes) else str(text)
        return dict(line.split(":", 1) for line in text.split() if ":" in line)

    def wait_healthy(self, timeout: float = 30.0) -> float:
        """Wait until every running node says ``cluster_state:ok`` and every primary has
        a replica in sync."""

        def healthy() -> bool:
            running = [n for n in self.nodes if role(n, self.tls) != "down"]
            if not all(self.info(n)["cluster_state"] == "ok" for n in running):
                return False
            for primary in self.primaries():
                with _client(primary, tls=self.tls) as client:
                    replication = client.info("replication")
                if int(replication.get("connected_slaves", 0)) < 1:
                    return False
                if replication.get("slave0", {}).get("state") != "online":
                    return False
            for node in running:  # and every node's slot table lists the replicas (gossip)
                with _client(node, tls=self.tls) as client:
                    ranges = client.execute_command("CLUSTER", "SLOTS")
                if any(len(entry) < 4 for entry in ranges):
                    return False
            return len(self.primaries()) * 2 == len(running)

        return wait_until(healthy, timeout, "cluster healthy")

    def primaries(self) -> list[RedisServer]:
        return [n for n in self.nodes if role(n, self.tls) == "master"]

    def replica_of(self, primary: RedisServer) -> RedisServer:
        """The replica that follows ``primary``."""
        with _client(primary, tls=self.tls) as client:
            replica = client.info("replication")["slave0"]
        return next(n for n in self.nodes if n.port == int(replica["port"]))

    def client(self, node: RedisServer) -> redis.Redis:
        """A plain client of one node (scan it, count its keys)."""
        return _client(node, tls=self.tls)

    def heal(self) -> None:
        """Restart every killed node (it rejoins as a replica) and wait until healthy."""
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is not None:
                node.start()
        self.wait_healthy()

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()


class SentinelSet:
    """A master, one replica and ``sentinels`` sentinels monitoring them (quorum 2)."""

    def __init__(
        self,
        sentinels: int = 3,
        *,
        down_after_ms: int = DOWN_AFTER_MS,
        sentinel_password: str | None = None,
        tls: TLSFiles | None = None,
    ) -> None:
        fast_sync = ["--repl-diskless-sync-delay", "0"]
        self.sentinel_password = sentinel_password
        self.tls = tls
        on_tls = tls is not None
        tls_args = _tls_args(tls) if tls is not None else []
        self.master = RedisServer([*fast_sync, *tls_args], tls=on_tls)
        self.replica = RedisServer(
            [*fast_sync, *tls_args, "--replicaof", "127.0.0.1", str(self.master.port)],
            tls=on_tls,
        )
        conf = (
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.master.port} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} {down_after_ms}\n"
            f"sentinel failover-timeout {SERVICE} 5000\n"
            f"sentinel parallel-syncs {SERVICE} 1\n"
        )
        if sentinel_password is not None:  # the sentinels' own password (and each other's)
            conf += f"requirepass {sentinel_password}\nsentinel sentinel-pass {sentinel_password}\n"
        self.sentinels = [
            RedisServer(["--sentinel", *tls_args], config=conf, tls=on_tls)
            for _ in range(sentinels)
        ]

    @property
    def url(self) -> str:
        """A ``redis+sentinel://`` URL listing every sentinel and naming the service
        (``rediss+`` with TLS)."""
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"{'rediss' if self.tls else 'redis'}+sentinel://{hosts}/{SERVICE}/0"

    @property
    def servers(self) -> list[RedisServer]:
        return [self.master, self.replica]

    def start(self) -> SentinelSet:
        self.master.start()
        self.replica.start()
        for sentinel in self.sentinels:
            sentinel.start()
        self.wait_healthy()
        return self

    def sentinel_master(self, sentinel: RedisServer) -> dict[str, object]:
        with _client(sentinel, self.sentinel_password, self.tls) as client:
            found: dict[str, object] = client.sentinel_master(SERVICE)
        return found

    def current_master(self) -> RedisServer:
        """The server the sentinels name as master now."""
        with _client(self.sentinels[0], self.sentinel_password, self.tls) as client:
            _, port = client.sentinel_get_master_addr_by_name(SERVICE)
        return next(s for s in self.servers if s.port == int(port))

    def wait_healthy(self, timeout: float = 30.0) -> float:
        """Wait until the master has its replica in sync and every sentinel knows the
        other sentinels and the replica (a failover needs both)."""
        others = len(self.sentinels) - 1

        def healthy() -> bool:
            master = self.current_master()
            if role(master, self.tls) != "master":
                return False
            with _client(master, tls=self.tls) as client:
                replication = client.info("replication")
            if replication.get("slave0", {}).get("state") != "online":
                return False
            for sentinel in self.sentinels:
                state = self.sentinel_master(sentinel)
                if int(str(state["num-other-sentinels"])) < others:
                    return False
                if int(str(state["num-slaves"])) < 1 or "master" not in str(state["flags"]):
                    return False
                with _client(sentinel, self.sentinel_password, self.tls) as client:
                    replicas = client.sentinel_slaves(SERVICE)
                if not any(not r["is_sdown"] for r in replicas):
                    return False
            return True

        return wait_until(healthy, timeout, "sentinel set healthy")

    def heal(self) -> None:
        """Restart a killed server (sentinels turn it into a replica) and wait until healthy."""
        for server in self.servers:
            if server.proc is not None and server.proc.poll() is not None:
                server.start()
        self.wait_healthy()

    def cleanup(self) -> None:
        for server in [*self.sentinels, self.replica, self.master]:
            server.cleanup()
