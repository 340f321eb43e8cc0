"""HTTP: the app runtime, FastAPI dependencies, the ops router and ``cachekit serve``.

The only package that imports fastapi, starlette or uvicorn (the ``cachekit[server]``
extra); ``import cachekit`` never loads it.
"""
