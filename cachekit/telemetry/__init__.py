"""Metrics, traces and alerts through OpenTelemetry: the ``Instrumented`` wrapper, the
monitor's analytics and alert rules, and cachekit's own OTLP pipeline (``otlp``, which
needs the ``cachekit[otlp]`` extra)."""
