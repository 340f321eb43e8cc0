"""Cross-cutting layers: wrappers that implement the cache protocol around a stack.

``tiered`` puts the memory tier in front of a remote tier, ``resilience`` keeps a stack
serving when Redis fails, ``ai`` adds prompt-aware keys and per-operation TTLs.
"""
