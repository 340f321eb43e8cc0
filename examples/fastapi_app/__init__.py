"""Example FastAPI app over cachekit (see ``app.py``)."""

from .app import app, create_app

__all__ = ["app", "create_app"]
