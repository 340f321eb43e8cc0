"""The ``cachekit`` command line: config show/validate, presets, check, serve, stats."""
