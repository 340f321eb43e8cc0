"""Storage tiers: the memory tier, the null cache, and Redis (``backends.redis``).

Each implements the cache protocol; the Redis tier also implements the remote-tier
protocol the layers above are written against. ``registry`` picks the remote backend a
URL scheme names. Values cross into Redis through the safe codec (``codec``), signed or
encrypted when keys are configured (``integrity``).
"""
