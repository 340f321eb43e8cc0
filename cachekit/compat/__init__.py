"""The original cache layer's shapes, adapted onto the core: ``CacheFactory``,
``GenericRedisCache``, ``CacheConfigBuilder``, the flat-argument constructors and the
security manager. The core never imports this package."""
