"""The ``cachekit`` command line: config show/validate, presets, check.

Every command resolves the layered settings through the same path as the library; bad
settings print every problem (secrets masked) and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from difflib import get_close_matches
from typing import Any, TextIO

from cachekit.cli.output import render_table, to_toml
from cachekit.config.masking import mask_tree
from cachekit.config.tree import flatten, source_of
from cachekit.errors import CacheConfigError, ConfigProblem, MissingExtraError

EXIT_OK = 0
EXIT_UNFIT = 1
EXIT_CONFIG = 2


def _resolve(args: argparse.Namespace, *, posture: bool = True) -> Any:
    from cachekit.config.settings import resolve_settings

    return resolve_settings(
        environment=args.env,
        preset=getattr(args, "preset", None),
        posture=posture,
        environment_source="--env" if args.env else None,
    )


def _write_findings(config: Any, stream: TextIO) -> None:
    """Posture findings, one per line (``error`` ones make ``config validate`` exit 2)."""
    from cachekit.config.posture import findings

    for finding in findings(config):
        stream.write(f"cachekit: {finding}\n")


def _cmd_config_show(args: argparse.Namespace, out: TextIO) -> int:
    # Shows a config even when its posture rules refuse it; the findings go to stderr.
    resolved = _resolve(args, posture=False)
    _write_findings(resolved.config, sys.stderr)
    tree = mask_tree(resolved.config.to_dict())
    leaves = flatten(tree)
    if args.format == "json":
        if args.sources:
            doc: Any = {}
            for key, value in leaves.items():
                node = doc
                *parents, last = key.split(".")
                for part in parents:
                    node = node.setdefault(part, {})
                node[last] = {"value": value, "source": source_of(resolved.sources, key)}
        else:
            doc = tree
        out.write(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    elif args.format == "toml":
        out.write(to_toml(tree, leaves_sources=resolved.sources if args.sources else None))
    else:
        rows = [
            [key, _show(value)] + ([source_of(resolved.sources, key)] if args.sources else [])
            for key, value in leaves.items()
        ]
        header = ["key", "value"] + (["source"] if args.sources else [])
        out.write(render_table(header, rows, tty=out.isatty()))
    return EXIT_OK


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value if value else '""'
    return json.dumps(value)


def _cmd_config_validate(args: argparse.Namespace, out: TextIO) -> int:
    from cachekit.config.model import OPEN_ENVIRONMENTS
    from cachekit.web.tokens import TokenRule

    resolved = _resolve(args)
    config = resolved.config
    refusal = TokenRule.from_config(config.server, environment=config.environment).refusal
    if refusal is not None and args.for_ == "serve":
        raise CacheConfigError(
            [ConfigProblem(key="server.token", message=f"`cachekit serve` needs it: {refusal}")]
        )
    out.write(
        f"configuration valid: environment {config.environment}, preset {config.preset}\n"
    )
    if refusal is not None and config.environment not in OPEN_ENVIRONMENTS:
        out.write(
            f"cachekit: warning: `cachekit serve` would refuse to start: server.token: "
            f"{refusal} (--for serve makes this an error)\n"
        )
    _write_findings(config, out)
    return EXIT_OK


def _preset_config(name: str) -> Any:
    from cachekit.config.settings import resolve_settings

    return resolve_settings(preset=name, environ={}, use_files=False).config


def _cmd_presets_list(args: argparse.Namespace, out: TextIO) -> int:
    from cachekit.config.presets import preset_names, read_preset

    rows = [[name, read_preset(name)[1].get("description", "")] for name in preset_names()]
    out.write(render_table(["preset", "description"], rows, tty=out.isatty()))
    return EXIT_OK


def _cmd_presets_show(args: argparse.Namespace, out: TextIO) -> int:
    from cachekit.config.presets import preset_names, read_preset

    if args.name not in preset_names():
        hint = get_close_matches(args.name, preset_names(), n=1, cutoff=0.5)
        if not hint:
            hint = [name for name in preset_names() if name.startswith(args.name)][:1]
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        message = f"unknown preset{suggestion}; known: {', '.join(preset_names())}"
        problem = ConfigProblem(key="preset", message=message, value=repr(args.name))
        raise CacheConfigError([problem])
    about = read_preset(args.name)[1]
    out.write(f"{args.name}: {about.get('description', '')}\n")
    if about.get("use_cases"):
        out.write("use cases: " + ", ".join(about["use_cases"]) + "\n")
    leaves = flatten(mask_tree(_preset_config(args.name).to_dict()))
    rows = [[k, _show(v)] for k, v in leaves.items() if k not in {"preset", "environment"}]
    out.write(render_table(["key", "value"], rows, tty=out.isatty()))
    return EXIT_OK


def _cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    import asyncio

    from cachekit.cli.check import run_check, run_check_json

    resolved = _resolve(args)
    run = run_check_json if args.format == "json" else run_check
    return asyncio.run(run(resolved.config, out, serve=args.serve))


def _cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from cachekit.config.settings import (
        ResolvedSettings,
        hand_to_child_processes,
        resolve_settings,
    )
    from cachekit.extras import require

    require("fastapi", "server", "cachekit serve")
    require("uvicorn", "server", "cachekit serve")
    from cachekit.web.server import serve

    flags = {"server.host": args.host, "server.port": args.port}
    given = {key: value for key, value in flags.items() if value is not None}
    resolved = resolve_settings(environment=args.env, overrides=given)
    if given:  # name the flag, not "code override", as the source
        sources = dict(resolved.sources)
        sources.update({key: f"command line --{key.split('.')[1]}" for key in given})
        resolved = ResolvedSettings(config=resolved.config, sources=sources, root=resolved.root)
    if args.workers > 1:
        hand_to_child_processes(args.env, given)
    return serve(
        resolved, log_level=args.log_level, workers=args.workers, log_format=args.log_format
    )


def _cmd_stats(args: argparse.Namespace, out: TextIO) -> int:
    from cachekit.cli.stats import run_stats

    url = args.url
    if url is None:
        server = _resolve(args).config.server
        host = f"[{server.host}]" if ":" in server.host else server.host
        url = f"http://{host}:{server.port}"
    return run_stats(url, out, sys.stderr, as_json=args.format == "json", timeout=args.timeout)


Command = Callable[[argparse.Namespace, TextIO], int]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``cachekit`` command."""
    from cachekit._version import __version__

    parser = argparse.ArgumentParser(
        prog="cachekit", description="Declarative cache for asyncio apps: inspect and check it."
    )
    parser.add_argument("--version", action="version", version=f"cachekit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    config = sub.add_parser("config", help="show or validate the resolved configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    show = config_sub.add_parser("show", help="print the resolved config, secrets masked")
    show.add_argument("--env", help="environment (default: CACHEKIT_ENV or development)")
    show.add_argument("--preset", help="preset (default: the preset key or CACHEKIT_PRESET)")
    show.add_argument("--format", choices=["table", "json", "toml"], default="table")
    show.add_argument("--sources", action="store_true", help="show where each value came from")
    show.set_defaults(handler=_cmd_config_show)
    validate = config_sub.add_parser(
        "validate", help="exit 0 when valid, else print every problem and exit 2"
    )
    validate.add_argument("--env", help="environment (default: CACHEKIT_ENV or development)")
    validate.add_argument(
        "--for",
        dest="for_",
        choices=["serve"],
        help="also require what `cachekit serve` needs (a token outside development/testing)",
    )
    validate.set_defaults(handler=_cmd_config_validate)

    presets = sub.add_parser("presets", help="list or show presets")
    presets_sub = presets.add_subparsers(dest="presets_command", required=True)
    plist = presets_sub.add_parser("list", help="every preset with its description")
    plist.set_defaults(handler=_cmd_presets_list)
    pshow = presets_sub.add_parser("show", help="one preset's values")
    pshow.add_argument("name")
    pshow.set_defaults(handler=_cmd_presets_show)

    check = sub.add_parser("check", help="validate, connect, round-trip a value; non-zero if unfit")
    check.add_argument("--env", help="environment (default: CACHEKIT_ENV or development)")
    check.add_argument(
        "--serve", action="store_true", help="also require that `cachekit serve` could start"
    )
    check.add_argument(
        "--format", choices=["text", "json"], default="text", help="json: one JSON object"
    )
    check.set_defaults(handler=_cmd_check)

    serve = sub.add_parser("serve", help="run the HTTP service: key/value API and ops endpoints")
    serve.add_argument("--env", help="environment (default: CACHEKIT_ENV or development)")
    serve.add_argument("--host", help="address to bind (default: server.host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default: server.port, 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (default 1); their memory tiers stay coherent through Redis",
    )
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.add_argument(
        "--log-format",
        default="text",
        choices=["text", "json"],
        help="json: one JSON object per line, with the request id (default text)",
    )
    serve.set_defaults(handler=_cmd_serve)

    stats = sub.add_parser("stats", help="a running service's cache analytics and alerts")
    stats.add_argument("--env", help="environment (default: CACHEKIT_ENV or development)")
    stats.add_argument("--url", help="service base URL (default: http://server.host:server.port)")
    stats.add_argument("--format", choices=["text", "json"], default="text")
    stats.add_argument("--timeout", type=float, default=5.0, help="seconds to wait (default 5)")
    stats.set_defaults(handler=_cmd_stats)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of the ``cachekit`` console script; returns the exit status."""
    stream = out or sys.stdout
    args = build_parser().parse_args(argv)
    handler: Command = args.handler
    try:
        return handler(args, stream)
    except (CacheConfigError, MissingExtraError) as exc:
        sys.stderr.write(f"cachekit: {exc}\n")
        return EXIT_CONFIG


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
