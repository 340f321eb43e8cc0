"""The original cache layer's shapes, adapted onto the core (README, "Migrating from the
original"). The core never imports this package. One concept per module:

- ``factory`` (``CacheFactory``), ``redis`` (``GenericRedisCache``), ``ai`` and ``ai_stats``
  (``AIResponseCache`` and its statistics), ``surface`` (what the two caches share),
  ``stack`` (the stack under them, with the caller's monitor);
- ``params`` and ``names`` (flat parameters → settings), ``builder``, ``presets``,
  ``config`` (the flat ``CacheConfig`` / ``AICacheConfig`` records), ``ai_config``,
  ``mapper``, ``results`` (``ValidationResult``);
- ``security_config``, ``security``, ``security_result`` (``SecurityConfig``, the manager,
  ``SecurityValidationResult``);
- ``monitor`` and ``metrics`` (``CachePerformanceMonitor``), ``keys``
  (``CacheKeyGenerator``), ``interface`` (``CacheInterface``), ``memory``
  (``InMemoryCache``), ``dependencies`` (test-cache dependencies; the other FastAPI
  dependency names are in ``cachekit.web.legacy``), ``_alias`` (how a compat class counts
  core objects as its instances).
"""
