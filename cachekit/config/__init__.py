"""Configuration: the layered settings, crossing one boundary into frozen typed objects.

``settings`` reads the layers (preset, ``settings.toml``, ``.secrets.toml``, ``CACHEKIT_*``
variables, code overrides) and ``validation`` turns them into one ``CacheConfig``
(``model``), reporting every problem with its key, masked value and layer. Nothing outside
this package reads files, environment variables or imports dynaconf.
"""
