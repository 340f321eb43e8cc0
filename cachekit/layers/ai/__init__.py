"""The AI response layer: per-operation TTLs, invalidation by operation, savings stats."""
