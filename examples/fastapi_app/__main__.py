"""``python -m examples.fastapi_app``: serve the example on http://127.0.0.1:8001."""

import uvicorn

uvicorn.run("examples.fastapi_app.app:app", host="127.0.0.1", port=8001)
