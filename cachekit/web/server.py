"""``cachekit serve``: the resolved stack over HTTP, for services in any language.

The app is the key/value API (``cachekit.web.kv``), the ops router (``/livez``,
``/readyz``, ``/cache/...``, ``/metrics``), the status page (``/status``, linked from
``/``), ``/openapi.json`` and the docs (``/docs``, ``/redoc``, no CDN needed). Errors are
problem details (RFC 9457), bad input a 4xx, never a 500. Limits come from the
``[server]`` settings: body size, JSON depth and number range, header, body and
keep-alive timeouts, connections served at once; who may do what from ``TokenRule``.
Every request is a SERVER span on the stack's tracer provider (``cachekit.web.tracing``)
and has a request id (``cachekit.web.logs``); the stack's metrics go to its own Prometheus
reader unless ``OTEL_METRICS_EXPORTER`` says otherwise.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final, Literal

from fastapi import FastAPI

from cachekit.config.model import CacheConfig, ServerConfig
from cachekit.config.settings import ResolvedSettings
from cachekit.protocol import CacheInterface
from cachekit.web.docs import install_docs
from cachekit.web.jsonlimits import JSONLimitsMiddleware
from cachekit.web.kv import kv_router
from cachekit.web.limits import BodyLimitMiddleware, HeadMiddleware
from cachekit.web.logs import RequestIdMiddleware
from cachekit.web.ops import ops_router
from cachekit.web.problems import install_problem_handlers
from cachekit.web.runtime import CacheRuntime
from cachekit.web.status import status_router
from cachekit.web.tracing import StackTracerProvider, instrument

logger = logging.getLogger("cachekit.server")

LogFormat = Literal["text", "json"]
SERVE_OTEL_DEFAULTS: Final = {"OTEL_METRICS_EXPORTER": "prometheus"}
"""What ``cachekit serve`` assumes of the ``OTEL_*`` variables a deployment leaves unset:
its metrics are scraped from ``/metrics``."""


def create_app(
    *,
    settings: ResolvedSettings | None = None,
    config: CacheConfig | None = None,
    cache: CacheInterface | None = None,
    host: str | None = None,
    environ: Mapping[str, str] | None = None,
    environment: str | None = None,
    banner: bool = False,
) -> FastAPI:
    """The service ``cachekit serve`` runs: ops router, status page, key/value API,
    problem details, a SERVER span and a request id per request.

    Settings are resolved here (the body limit is needed to build the app); the stack is
    resolved and connected by the lifespan at startup. ``banner`` logs what is served, and
    where, once it is (``cachekit serve`` sets it). ``environ`` (default: the process
    environment) also gives the ``OTEL_*`` variables, over ``SERVE_OTEL_DEFAULTS``.
    """
    from cachekit._version import __version__
    from cachekit.config.settings import environ_or_process, resolve_settings
    from cachekit.web.lifespan import cachekit_lifespan

    if settings is None and config is None:
        settings = resolve_settings(environ=environ, environment=environment)
    resolved = settings.config if settings is not None else config
    assert resolved is not None
    otel_environ = {**SERVE_OTEL_DEFAULTS, **environ_or_process(environ)}
    tracer_provider = StackTracerProvider()

    @contextlib.asynccontextmanager
    async def serving(app: FastAPI) -> AsyncIterator[None]:
        runtime: CacheRuntime = app.state.cachekit
        tracer_provider.bind(runtime.tracer_provider())
        if banner:
            topology = await runtime.topology()
            for line in banner_lines(runtime, topology=topology["summary"]):
                logger.info("%s", line)
        try:
            yield
        finally:
            tracer_provider.unbind()

    app = FastAPI(
        title="cachekit",
        version=__version__,
        description="Key/value access to a cachekit stack, and its ops endpoints.",
        lifespan=cachekit_lifespan(
            serving, settings=settings, config=config, cache=cache, host=host, environ=otel_environ
        ),
        docs_url=None,  # install_docs serves /docs and /redoc without a CDN
        redoc_url=None,
    )
    install_problem_handlers(app)
    # Outermost last: HEAD becomes GET, the body is counted, then checked as JSON; the
    # request id is set before anything logs. The SERVER span wraps them all.
    app.add_middleware(JSONLimitsMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=resolved.server.max_body_bytes)
    app.add_middleware(HeadMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(status_router())
    app.include_router(ops_router())
    app.include_router(kv_router())
    install_docs(app)
    instrument(app, tracer_provider)
    return app


def banner_lines(runtime: CacheRuntime, *, topology: str = "") -> list[str]:
    """What ``cachekit serve`` says once it serves: version, environment, preset, stack,
    coherence, the Redis ``topology`` (``CacheRuntime.topology``), and the URLs of the
    service, its docs and its status page (no secrets)."""
    from cachekit._version import __version__
    from cachekit.layers.wrapper import describe_stack

    config, server = runtime.config, runtime.config.server
    host = f"[{server.host}]" if ":" in server.host else server.host
    base = f"http://{host}:{server.port}"
    if not config.memory.enabled:
        coherence = "none (no memory tier)"
    elif not config.redis.url:
        coherence = "none needed (no Redis)"
    else:
        coherence = config.memory.coherence
    return [
        f"cachekit {__version__} serving: environment {config.environment}, "
        f"preset {config.preset}, namespace {config.namespace}",
        f"stack: {describe_stack(runtime.cache)}",
        f"memory tier coherence: {coherence}; Redis: {topology or 'none'}",
        f"listening on {base}  docs {base}/docs  status {base}/status",
    ]


def log_config(log_format: LogFormat = "text") -> dict[str, Any]:
    """uvicorn's logging setup, with cachekit's lines shown next to uvicorn's; ``json``:
    one JSON object per line for every logger (``cachekit.web.logs.JSONFormatter``)."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {**LOGGING_CONFIG, "loggers": dict(LOGGING_CONFIG["loggers"])}
    config["loggers"]["cachekit"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    if log_format == "json":
        json_formatter = {"()": "cachekit.web.logs.JSONFormatter"}
        config["formatters"] = {"default": json_formatter, "access": json_formatter}
    return config


def uvicorn_options(
    server: ServerConfig, *, log_level: str = "info", log_format: LogFormat = "text"
) -> dict[str, Any]:
    """uvicorn's keyword arguments for a ``[server]`` section: address, the h11 protocol
    with header and body deadlines, keep-alive timeout, connections served at once."""
    from cachekit.web.protocol import guarded_protocol

    return {
        "host": server.host,
        "port": server.port,
        "http": guarded_protocol(server.header_timeout, server.body_timeout),
        "timeout_keep_alive": server.keep_alive_timeout,
        "limit_concurrency": server.max_connections,
        "log_level": log_level,
        "log_config": log_config(log_format),
        "lifespan": "on",
        "server_header": False,
    }


def uvicorn_config(
    settings: ResolvedSettings,
    *,
    log_level: str = "info",
    log_format: LogFormat = "text",
    banner: bool = False,
) -> Any:
    """The ``uvicorn.Config`` of the service (``uvicorn_options``) around its app."""
    import uvicorn

    options = uvicorn_options(settings.config.server, log_level=log_level, log_format=log_format)
    return uvicorn.Config(create_app(settings=settings, banner=banner), **options)


def worker_app() -> FastAPI:
    """The app of one worker process of ``cachekit serve --workers N`` (uvicorn imports it
    by name): the settings resolved from the environment the parent handed down."""
    from cachekit.config.settings import resolve_settings
    from cachekit.web.protocol import GuardedProtocol

    settings = resolve_settings()
    GuardedProtocol.header_timeout = settings.config.server.header_timeout
    GuardedProtocol.body_timeout = settings.config.server.body_timeout
    return_large_frees_to_the_os()
    return create_app(settings=settings, banner=True)


def serve(
    settings: ResolvedSettings,
    *,
    log_level: str = "info",
    workers: int = 1,
    log_format: LogFormat = "text",
) -> int:
    """Run the service until interrupted; 0 after a clean shutdown, 1 when it failed to start.

    Refuses to start (``CacheConfigError`` naming ``server.token``) when writes would
    need a token and none is set. With ``workers`` > 1, uvicorn runs that many worker
    processes on one socket, each with a stack of its own; their memory tiers stay
    coherent through Redis (``memory.coherence``). Once serving it logs a banner (each
    worker its own); ``log_format="json"`` makes every line a JSON object.
    """
    import uvicorn

    from cachekit.web.tokens import TokenRule

    config = settings.config
    TokenRule.from_config(config.server, environment=config.environment).enforce()
    if workers > 1:
        options = uvicorn_options(config.server, log_level=log_level, log_format=log_format)
        # Worker processes import the protocol by name; worker_app sets its deadlines.
        options["http"] = "cachekit.web.protocol:GuardedProtocol"
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.run("cachekit.web.server:worker_app", factory=True, workers=workers, **options)
        return 0
    return_large_frees_to_the_os()
    server = uvicorn.Server(
        uvicorn_config(settings, log_level=log_level, log_format=log_format, banner=True)
    )
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C after shutdown
        server.run()
    return 0 if server.started else 1


def return_large_frees_to_the_os(threshold: int = 128 * 1024) -> bool:
    """Pin glibc's mmap threshold in this process (``cachekit serve`` owns it), so blocks of
    ``threshold`` bytes or more are mapped and unmapped on their own; True when set.

    glibc raises the threshold after each large free (up to 32 MiB), so the encoded values
    the memory tier drops and the request buffers of large PUTs land in the heap, which
    fragments and does not shrink: 120 PUTs of a 1 MB object into a 64 MiB tier left RSS
    30 MiB above what the tier held, and 0 with the threshold pinned. Not glibc (or no
    libc found): nothing changes.
    """
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    m_mmap_threshold = -3  # M_MMAP_THRESHOLD in malloc.h
    return bool(mallopt(m_mmap_threshold, threshold))
