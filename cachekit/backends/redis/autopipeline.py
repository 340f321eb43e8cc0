"""``AutoPipeline``: the commands concurrent tasks issue in one event-loop tick share a round trip.

With redis-py every command borrows a pooled connection, writes, waits for its reply and
returns the connection, so 64 tasks reading the cache make 64 round trips and fight over
the pool. Here a command is queued and the caller awaits a future; one runner task takes
everything queued in the current tick, sends it as one pipeline on one connection, reads
the replies in order and hands each caller its own result (auto-pipelining, as ioredis
does for Node)::

    task A: GET a ─┐
    task B: GET b ─┼─> runner: *GET a, GET b, SET c* ──> Redis ──> replies fanned out
    task C: SET c ─┘

A caller gets exactly what ``client.execute_command`` would give it: the reply parsed by
the client's response callbacks, or the exception redis-py would raise (``ResponseError``
for that command alone, ``ConnectionError``/``TimeoutError`` for everyone in the batch),
so ``map_redis_errors`` translates them as before. A batch that fails on the connection
is retried under the client's own ``Retry`` policy, like a redis-py pipeline: only
idempotent commands (GET, SET, UNLINK, EXISTS, PTTL, MGET, SCAN...) belong here.

Commands are packed into the wire format by the caller (with hiredis's C packer), so a
bad argument fails that caller alone, before anything is sent. A caller that is cancelled
(a timeout) abandons its future; its reply is still read, so the connection never falls
out of step. The runner holds one pooled connection while commands keep coming and
returns it when the queue stays empty for a tick.

A large command (``LARGE_PAYLOAD`` bytes and more: a value of several megabytes) gets a
deadline of its own, longer by its transfer time at ``TRANSFER_RATE``, and so does the
write of the batch carrying it: a 50 MB value is not a Redis failure because it takes
longer than a GET to send.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import math
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

try:
    import hiredis
except ImportError:  # pragma: no cover - redis[hiredis] is a dependency
    hiredis = None  # type: ignore[assignment]

__all__ = ["DEFAULT_MAX_BATCH", "AutoPipeline", "supports_auto_pipeline"]

DEFAULT_MAX_BATCH: Final = 256
"""Commands one round trip carries at most; the rest go in the next one."""

LARGE_PAYLOAD: Final = 1 << 20
"""Commands this size (bytes on the wire) and larger get a deadline extended by their size."""
TRANSFER_RATE: Final = 50 << 20
"""Bytes per second a deadline allows for sending a large command (a slow link's pace)."""

Command = tuple[Any, ...]
Packer = Callable[[Command], bytes]


class _Request:
    """One caller's commands: their wire form, their names (for the reply parsers), its future."""

    __slots__ = ("future", "names", "payload")

    def __init__(self, payload: bytes, names: list[str], future: asyncio.Future[list[Any]]) -> None:
        self.payload = payload
        self.names = names
        self.future = future


def supports_auto_pipeline(client: object) -> bool:
    """Whether ``client`` is a plain pooled redis-py client (not cluster, not single-connection)."""
    return (
        isinstance(client, aioredis.Redis)
        and not getattr(client, "single_connection_client", False)
        and hasattr(client.connection_pool, "get_connection")
    )


def _packer(client: aioredis.Redis) -> Packer:
    """hiredis's packer when the client encodes as it does (UTF-8, strict), else redis-py's."""
    pool: Any = client.connection_pool
    encoder = pool.get_encoder()
    if hiredis is not None and (encoder.encoding, encoder.encoding_errors) == ("utf-8", "strict"):
        pack: Callable[[Command], bytes] = hiredis.pack_command

        def hiredis_pack(command: Command) -> bytes:
            if any(arg is None or isinstance(arg, bool) for arg in command):
                raise DataError(f"invalid argument in {command[0]!r}: None and bool are not sent")
            try:
                return pack(command)
            except TypeError as exc:  # what redis-py raises for an argument it cannot encode
                raise DataError(str(exc)) from exc

        return hiredis_pack
    connection = aioredis.Connection(
        encoding=encoder.encoding, encoding_errors=encoder.encoding_errors
    )
    return lambda command: b"".join(connection.pack_command(*command))


class AutoPipeline:
    """Batches commands issued in the same event-loop tick into one pipelined round trip."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        deadline: float | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch!r}")
        self.client = client
        self.max_batch = max_batch
        self.deadline = deadline
        """Seconds a caller waits at most, queue and round trip included (None: no bound).
        One timer per event-loop tick covers every command submitted in that tick."""
        self._group: list[_Request] | None = None
        self.round_trips = 0
        """Batches sent so far (a retried batch counts once); a plain int for gauges."""
        self._pack = _packer(client)
        self._callbacks = client.response_callbacks
        self._queue: deque[_Request] = deque()
        self._runner: asyncio.Task[None] | None = None

    async def execute(self, *args: Any) -> Any:
        """Run one command (``"GET", name``) and return its parsed reply."""
        return (await self._submit((args,)))[0]

    async def execute_many(self, commands: Sequence[Command]) -> list[Any]:
        """Run several commands in the same round trip; their replies, in order.

        A command that Redis refuses raises its ``ResponseError`` after all the replies
        are read, as a redis-py pipeline does.
        """
        if not commands:
            return []
        return await self._submit(commands)

    def _submit(self, commands: Sequence[Command]) -> asyncio.Future[list[Any]]:
        pack = self._pack
        payload = b"".join([pack(command) for command in commands])
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        request = _Request(payload, [str(c[0]).upper() for c in commands], future)
        self._queue.append(request)
        if self.deadline is not None:
            group = self._group
            if len(payload) >= LARGE_PAYLOAD:  # its own, longer deadline
                limit = self.deadline + len(payload) / TRANSFER_RATE
                loop.call_at(loop.time() + limit, _expire, [request], limit)
            elif group is None:
                group = self._group = []
                loop.call_soon(self._close_group)
                loop.call_at(loop.time() + self.deadline, _expire, group, self.deadline)
                group.append(request)
            else:
                group.append(request)
        if self._runner is None:
            # The runner's first step comes after every callback already due in this
            # tick, so the commands other tasks issue meanwhile join the same batch.
            self._runner = loop.create_task(self._run())
        return future

    def _close_group(self) -> None:
        self._group = None

    async def aclose(self) -> None:
        """Stop the runner; commands still queued fail with ``ConnectionError``."""
        runner, self._runner = self._runner, None
        if runner is not None and not runner.done():
            runner.cancel()
            await asyncio.wait([runner])  # returns when it has stopped; never raises its error
        self._fail_all(RedisConnectionError("the cache was closed"))

    # -- the runner ----------------------------------------------------------------------

    async def _run(self) -> None:
        pool: Any = self.client.connection_pool
        connection: Any = None
        try:
            try:
                connection = await pool.get_connection()
            except TypeError:  # redis-py before 5.3 wants a command name
                connection = await pool.get_connection("PIPELINE")
            while self._queue:
                await self._round_trip(connection, self._take_batch())
                if not self._queue:
                    # Callers just woken usually issue their next command in the next
                    # tick: keep the connection for it instead of a pool round trip.
                    await asyncio.sleep(0)
        except Exception as exc:  # no connection to be had: nobody queued can be served
            self._fail_all(exc)
        except BaseException:
            self._fail_all(RedisConnectionError("the auto-pipeline runner was cancelled"))
            raise
        finally:
            if connection is not None:
                await pool.release(connection)
            if self._runner is asyncio.current_task():
                self._runner = None
                if self._queue:  # queued while the connection went back
                    self._runner = asyncio.get_running_loop().create_task(self._run())

    def _take_batch(self) -> list[_Request]:
        """The next batch: up to ``max_batch`` commands; a large command goes alone (the
        small ones around it keep their short deadlines)."""
        queue, size = self._queue, 0
        batch: list[_Request] = []
        while queue and size < self.max_batch:
            request = queue[0]
            if request.future.done():  # its caller was cancelled before the batch left
                queue.popleft()
                continue
            if len(request.payload) >= LARGE_PAYLOAD:
                if not batch:
                    batch.append(queue.popleft())
                break
            batch.append(queue.popleft())
            size += len(request.names)
        return batch

    async def _round_trip(self, connection: Any, batch: list[_Request]) -> None:
        """Send ``batch`` as one pipeline and settle every future in it."""
        if not batch:
            return
        self.round_trips += 1
        try:
            replies = await connection.retry.call_with_retry(
                lambda: self._send_and_read(connection, batch),
                lambda error: connection.disconnect(),
            )
        except Exception as exc:
            for request in batch:
                _settle_error(request.future, exc)
            return
        except BaseException:
            cancelled = RedisConnectionError("the auto-pipeline runner was cancelled")
            for request in batch:
                _settle_error(request.future, cancelled)
            raise
        start = 0
        for request in batch:
            end = start + len(request.names)
            results = replies[start:end]
            start = end
            if request.future.done():
                continue
            error = next((r for r in results if isinstance(r, ResponseError)), None)
            if error is not None:
                request.future.set_exception(error)
            else:
                request.future.set_result(results)

    async def _send_and_read(self, connection: Any, batch: list[_Request]) -> list[Any]:
        """Write the whole batch at once, then read one reply per command, in order.

        Writing and reading share one ``socket_timeout`` deadline (redis-py arms one per
        write and per reply); running out of it raises redis-py's ``TimeoutError``.
        """
        await connection.connect()  # after a failed attempt; bounded by connect_timeout
        replies: list[Any] = []
        callbacks = self._callbacks
        payloads = [r.payload for r in batch]
        limit = connection.socket_timeout
        if limit is not None:
            size = sum(map(len, payloads))
            if size >= LARGE_PAYLOAD:
                limit += size / TRANSFER_RATE
        try:
            async with asyncio.timeout(limit):
                await _write(connection, payloads)
                for request in batch:
                    for name in request.names:
                        try:
                            reply = await connection.read_response(timeout=math.inf)
                        except ResponseError as error:  # this command's own failure
                            replies.append(error)
                            continue
                        callback = callbacks.get(name)
                        if callback is not None:
                            reply = callback(reply)
                            if inspect.isawaitable(reply):
                                reply = await reply
                        replies.append(reply)
        except BaseException as exc:
            # A partial read leaves unread replies behind: this socket cannot be reused.
            await connection.disconnect(nowait=True)
            if isinstance(exc, TimeoutError):
                raise RedisTimeoutError(f"Timeout reading from {_address(connection)}") from None
            raise
        return replies

    def _fail_all(self, exc: Exception) -> None:
        while self._queue:
            _settle_error(self._queue.popleft().future, exc)


async def _write(connection: Any, payloads: list[bytes]) -> None:
    """Write ``payloads`` to the connection's stream.

    ``send_packed_command`` would run the write in a task of its own (``wait_for``), two
    extra event-loop ticks per batch; the caller's deadline already bounds the write.
    """
    writer = getattr(connection, "_writer", None)
    if writer is None:  # a connection class laid out differently: its own method
        await connection.send_packed_command(payloads, check_health=False)
        return
    try:
        writer.writelines(payloads)
        await writer.drain()
    except OSError as exc:
        raise RedisConnectionError(
            f"Error while writing to socket of {_address(connection)}: {exc}"
        ) from exc


def _address(connection: Any) -> str:
    host, port = getattr(connection, "host", "redis"), getattr(connection, "port", None)
    return f"{host}:{port}" if port else str(host)


def _expire(group: list[_Request], deadline: float) -> None:
    """The tick's deadline passed: fail its callers still waiting (their replies, if they
    come, are read and dropped, so the connection stays in step)."""
    for request in group:
        if not request.future.done():
            request.future.set_exception(RedisTimeoutError(f"no answer within {deadline:g}s"))


def _settle_error(future: asyncio.Future[list[Any]], exc: Exception) -> None:
    """Fail ``future`` with its own copy of ``exc`` (one exception object raised by many
    tasks would collect all their tracebacks)."""
    if future.done():
        return
    try:
        clone = copy.copy(exc)
    except Exception:  # an exception type that cannot be copied: share the original
        clone = exc
    if clone is not exc:
        clone.__cause__ = exc.__cause__
        clone.__context__ = exc.__context__
    future.set_exception(clone)
