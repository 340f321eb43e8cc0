"""Loading the layers and merging them, with the provenance of every leaf.

Layers, lowest to highest: preset (``_base.toml`` then ``<preset>.toml``) →
``settings.toml`` ``[default]`` → ``settings.toml`` ``[<env>]`` → ``.secrets.toml``
``[default]`` / ``[<env>]`` → ``CACHEKIT_*`` variables → overrides in code.

This module is the only one that reads files or an environment mapping. The merge is a
leaf-wise deep merge done here, because dynaconf's own merging wipes sections or appends
lists, its history misattributes merged values, and its loader follows process-wide
``*_FOR_DYNACONF`` variables (see FIELD_NOTES). dynaconf's parser types the variables'
values, so ``CACHEKIT_REDIS__MAX_CONNECTIONS=20`` is an int and ``@str`` forces a string.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import msgspec

from cachekit.config.masking import looks_secret
from cachekit.config.model import CacheConfig
from cachekit.config.presets import BASE, preset_names, preset_path, read_preset
from cachekit.config.validation import build_config, schema_leaves
from cachekit.errors import ConfigProblem

PREFIX = "CACHEKIT_"
# Variables that steer loading (or the test-suite) rather than set a config key.
CONTROL_VARS = frozenset({"CACHEKIT_ENV", "CACHEKIT_SETTINGS_ROOT", "CACHEKIT_REQUIRE_REDIS"})
DEFAULT_ENVIRONMENT = "development"
FALLBACK_PRESET = "simple"
SETTINGS_FILE = "settings.toml"
SECRETS_FILE = ".secrets.toml"
# Source of an optional leaf (e.g. redis.password) that no layer sets.
UNSET_SOURCE = "not set in any layer"
# dynaconf's parser reads AUTO_CAST_FOR_DYNACONF from os.environ unless told: pin it.
_PARSE_SETTINGS = {"AUTO_CAST_FOR_DYNACONF": True, "DYNABOXIFY": False}


class Layer(msgspec.Struct, frozen=True):
    """One layer of settings: its nested data and how to name each leaf's source."""

    name: str
    data: dict[str, Any]
    # dotted key -> source, for layers whose leaves have individual names (env vars)
    leaf_sources: dict[str, str] = {}

    def source_of(self, dotted: str) -> str:
        return self.leaf_sources.get(dotted, self.name)


class LoadedSettings(msgspec.Struct, frozen=True):
    """The merged settings before validation, and where each leaf came from."""

    data: dict[str, Any]
    sources: dict[str, str]
    environment: str
    preset: str
    root: str
    problems: list[ConfigProblem]


def _read_toml(path: Path, problems: list[ConfigProblem]) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        problems.append(
            ConfigProblem(key="(file)", message=f"cannot read: {exc}", source=str(path))
        )
        return {}


def _sections(
    path: Path, label: str, environment: str, problems: list[ConfigProblem]
) -> list[Layer]:
    """The ``[default]`` and ``[<environment>]`` sections of a settings file, as layers."""
    data = _read_toml(path, problems)
    layers = []
    for key, value in data.items():
        if not isinstance(value, dict):
            problems.append(
                ConfigProblem(
                    key=key,
                    message="top-level keys must sit in a [default] or [<environment>] section",
                    value="***" if looks_secret(key) else repr(value)[:80],
                    source=label,
                )
            )
    for section in ("default", environment) if environment != "default" else ("default",):
        section_data = data.get(section)
        if isinstance(section_data, dict):
            layers.append(Layer(name=f"{label} [{section}]", data=section_data))
    return layers


def _file_layers(path: Path, environment: str, problems: list[ConfigProblem]) -> list[Layer]:
    """An extra settings file: sectioned like settings.toml, or a flat config table."""
    data = _read_toml(path, problems) if path.is_file() else None
    if data is None:
        problems.append(ConfigProblem(key="(file)", message="no such file", source=str(path)))
        return []
    if "default" in data or environment in data:
        return _sections(path, str(path), environment, problems)
    return [Layer(name=str(path), data=data)]


def _env_layer(environ: Mapping[str, str], problems: list[ConfigProblem]) -> Layer:
    data: dict[str, Any] = {}
    leaf_sources: dict[str, str] = {}
    for var in sorted(environ):
        if not var.startswith(PREFIX) or var in CONTROL_VARS:
            continue
        path = [part.lower() for part in var[len(PREFIX) :].split("__")]
        if not all(path):
            problems.append(
                ConfigProblem(key=var, message="empty key segment in variable name", source=var)
            )
            continue
        raw = environ[var]
        try:
            value = _parse_env_value(path, raw)
        except Exception as exc:  # dynaconf's parser raises many kinds
            # Parser messages quote the value: keep them out when it may be a secret.
            detail = (
                "the value is not shown; a list needs TOML syntax: [\"a\", \"b\"]"
                if looks_secret(".".join(path))
                else str(exc)
            )
            problems.append(
                ConfigProblem(
                    key=".".join(path), message=f"cannot parse value: {detail}", source=var
                )
            )
            continue
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                problems.append(
                    ConfigProblem(
                        key=".".join(path), message="conflicts with another variable", source=var
                    )
                )
                break
            node = child
        else:
            node[path[-1]] = value
            leaf_sources[".".join(path)] = var
    return Layer(name="environment variables", data=data, leaf_sources=leaf_sources)


def _parse_env_value(path: list[str], raw: str) -> Any:
    """Type an environment value. Secrets and URLs stay strings (a numeric password too)."""
    if path[-1] in {"password", "url", "username", "namespace", "token", "host"}:
        return raw[len("@str ") :] if raw.startswith("@str ") else raw
    if path[-1] in {"signing_keys", "encryption_keys"}:
        # One key as is, or a TOML list; never dynaconf's parser (it evaluates @format).
        if not raw.lstrip().startswith("["):
            return [raw]
        try:
            return tomllib.loads(f"keys = {raw}")["keys"]
        except tomllib.TOMLDecodeError:
            raise ValueError("expected one key, or a TOML list of keys") from None
    # dynaconf is imported when settings are loaded, never when cachekit is imported.
    from dynaconf.utils.parse_conf import parse_conf_data  # type: ignore[import-untyped]

    value = parse_conf_data(raw, tomlfy=True, box_settings=dict(_PARSE_SETTINGS))
    if isinstance(value, (str, int, float, bool, list, dict)) or value is None:
        return value
    raise ValueError(f"unsupported value type {type(value).__name__}")


def _expand_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Accept nested dicts and dotted keys (``{"redis.url": ...}``) alike."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        parts = str(key).split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if isinstance(value, Mapping):
            _merge(node.setdefault(parts[-1], {}), dict(value), "", "", {})
        else:
            node[parts[-1]] = value
    return out


def _merge(
    target: dict[str, Any],
    data: dict[str, Any],
    prefix: str,
    source: str | Layer,
    sources: dict[str, str],
) -> None:
    """Leaf-wise merge of ``data`` into ``target``; records each leaf's source."""
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            existing = target.get(key)
            if not isinstance(existing, dict):
                existing = target[key] = {}
            if not value:
                sources.setdefault(dotted, _source(source, dotted))
            else:
                sources.pop(dotted, None)
            _merge(existing, value, dotted + ".", source, sources)
        else:
            target[key] = value
            sources[dotted] = _source(source, dotted)
            for other in [k for k in sources if k.startswith(dotted + ".")]:
                del sources[other]


def _source(source: str | Layer, dotted: str) -> str:
    return source.source_of(dotted) if isinstance(source, Layer) else source


def _chosen_preset(layers: list[Layer], environment: str) -> tuple[str, str]:
    for layer in reversed(layers):
        value = layer.data.get("preset")
        if value is not None:
            return str(value), layer.source_of("preset")
    if environment in preset_names():
        return environment, f"default for environment '{environment}'"
    return FALLBACK_PRESET, f"default (no preset for environment '{environment}')"


def _unknown_environment(environment: str, source: str, layers: list[Layer]) -> ConfigProblem:
    """An environment with no preset of its name, no settings section and no preset chosen:
    most likely a typo (``prod``), which would silently run the fallback preset."""
    sections = {
        layer.name.rsplit("[", 1)[1].rstrip("]")
        for layer in layers
        if layer.name.endswith("]") and "[" in layer.name
    } - {"default"}
    known = sorted(set(preset_names()) | sections)
    hint = get_close_matches(environment, known, n=1, cutoff=0.5)
    if not hint:  # "prod" is a prefix of "production": closer than difflib sees
        hint = [name for name in known if name.startswith(environment)][:1]
    suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
    return ConfigProblem(
        key="environment",
        message=(
            f"unknown environment{suggestion}: no preset of that name, no [{environment}] "
            f"section in {SETTINGS_FILE}, and no preset chosen; known: {', '.join(known)}. "
            "Set preset = \"...\" to use another name"
        ),
        value=repr(environment)[:80],
        source=source,
    )


def environ_or_process(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    """``environ``, or the process environment when None: the one place it is read."""
    return os.environ if environ is None else environ


def hand_to_child_processes(
    environment: str | None, overrides: Mapping[str, Any] | None = None
) -> None:
    """Put ``environment`` and dotted ``overrides`` into this process's environment, as
    ``CACHEKIT_ENV`` and ``CACHEKIT_*`` variables, so worker processes started from it
    (``cachekit serve --workers``) resolve the same settings."""
    if environment:
        os.environ["CACHEKIT_ENV"] = environment
    for dotted, value in (overrides or {}).items():
        os.environ[PREFIX + dotted.replace(".", "__").upper()] = str(value)


def load_settings(
    *,
    environ: Mapping[str, str] | None = None,
    environment: str | None = None,
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    root: str | Path | None = None,
    use_files: bool = True,
    extra_files: tuple[str | Path, ...] = (),
    environment_source: str | None = None,
) -> LoadedSettings:
    """Read every layer and merge them; problems found on the way are collected, not raised.

    ``environ`` defaults to ``os.environ``; tests pass a mapping instead. An environment
    from ``CACHEKIT_ENV`` (or one with an ``environment_source``, such as the CLI's
    ``--env``) must have a preset or a settings section of its name, or a preset chosen:
    otherwise it is a problem with a did-you-mean (``prod``), not a silent fallback.
    """
    env = environ_or_process(environ)
    problems: list[ConfigProblem] = []
    if environment:
        env_source = environment_source or "argument"
    elif env.get("CACHEKIT_ENV"):
        environment, env_source = env["CACHEKIT_ENV"], "CACHEKIT_ENV"
    else:
        environment, env_source = DEFAULT_ENVIRONMENT, "default"
    root_given = root or env.get("CACHEKIT_SETTINGS_ROOT")
    root_path = Path(root_given or Path.cwd()).resolve()
    if root_given and use_files and not root_path.is_dir():
        problems.append(
            ConfigProblem(
                key="CACHEKIT_SETTINGS_ROOT" if root is None else "root",
                message="no such directory: the settings files are looked for there",
                value=repr(str(root_given))[:200],
                source="CACHEKIT_SETTINGS_ROOT" if root is None else "argument",
            )
        )

    layers: list[Layer] = []
    if use_files:
        layers += _sections(root_path / SETTINGS_FILE, SETTINGS_FILE, environment, problems)
        layers += _sections(root_path / SECRETS_FILE, SECRETS_FILE, environment, problems)
    for extra in extra_files:
        layers += _file_layers(Path(extra), environment, problems)
    layers.append(_env_layer(env, problems))
    code = dict(overrides or {})
    if preset is not None:
        code["preset"] = preset
    layers.append(Layer(name="code override", data=_expand_overrides(code)))

    for layer in layers:
        if "environment" in layer.data:
            problems.append(
                ConfigProblem(
                    key="environment",
                    message="is chosen by CACHEKIT_ENV or the environment argument, not as a key",
                    value=repr(layer.data["environment"])[:80],
                    source=layer.source_of("environment"),
                )
            )

    preset_name, preset_source = _chosen_preset(layers, environment)
    if env_source != "argument" and preset_source.startswith("default (no preset") and not any(
        layer.name.endswith(f"[{environment}]") for layer in layers
    ):
        problems.append(_unknown_environment(environment, env_source, layers))
    data: dict[str, Any] = {}
    sources: dict[str, str] = {}
    base, _ = read_preset(BASE)
    _merge(data, base, "", f"preset base (environments/{preset_path(BASE).name})", sources)
    try:
        if preset_name not in preset_names():  # ``_base`` is readable but not a preset
            raise KeyError(preset_name)
        preset_data, _ = read_preset(preset_name)
    except KeyError:
        hint = get_close_matches(preset_name, preset_names(), n=1)
        problems.append(
            ConfigProblem(
                key="preset",
                message="unknown preset"
                + (f" (did you mean '{hint[0]}'?)" if hint else "")
                + f"; known: {', '.join(preset_names())}",
                value=repr(preset_name),
                source=preset_source,
            )
        )
        preset_data = {}
    _merge(
        data,
        preset_data,
        "",
        f"preset {preset_name} (environments/{preset_path(preset_name).name})",
        sources,
    )
    for layer in layers:
        _merge(data, layer.data, "", layer, sources)
    data["preset"] = preset_name
    sources["preset"] = preset_source
    data["environment"] = environment
    sources["environment"] = env_source
    return LoadedSettings(
        data=data,
        sources=sources,
        environment=environment,
        preset=preset_name,
        root=str(root_path),
        problems=problems,
    )


class ResolvedSettings(msgspec.Struct, frozen=True):
    """A validated config and the source of each of its leaves."""

    config: CacheConfig
    sources: dict[str, str]
    root: str


def resolve_settings(
    *,
    environ: Mapping[str, str] | None = None,
    environment: str | None = None,
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    root: str | Path | None = None,
    use_files: bool = True,
    extra_files: tuple[str | Path, ...] = (),
    posture: bool = True,
    environment_source: str | None = None,
) -> ResolvedSettings:
    """Load, merge and validate every layer; raise ``CacheConfigError`` listing all problems.

    ``posture=False`` skips the posture rules (for showing a config its preset refuses).
    """
    loaded = load_settings(
        environ=environ,
        environment=environment,
        preset=preset,
        overrides=overrides,
        root=root,
        use_files=use_files,
        extra_files=extra_files,
        environment_source=environment_source,
    )
    config = build_config(loaded.data, loaded.sources, loaded.problems, posture=posture)
    sources = dict(loaded.sources)
    for dotted, _ in schema_leaves():
        if dotted not in sources and not any(k.startswith(dotted + ".") for k in sources):
            sources[dotted] = UNSET_SOURCE
    return ResolvedSettings(config=config, sources=sources, root=loaded.root)


def load_config(
    *,
    environ: Mapping[str, str] | None = None,
    environment: str | None = None,
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    root: str | Path | None = None,
) -> CacheConfig:
    """The validated ``CacheConfig`` of the layered settings."""
    return resolve_settings(
        environ=environ, environment=environment, preset=preset, overrides=overrides, root=root
    ).config
