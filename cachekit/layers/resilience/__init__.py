"""Graceful degradation: the resilient wrapper, its circuit breaker and its outage journal."""
