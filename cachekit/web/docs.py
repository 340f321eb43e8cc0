"""``/docs`` (Swagger UI) and ``/redoc`` served from files on this machine.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so on a network without internet
``/docs`` is a blank page with no hint why. The ``server`` extra installs
``fastapi-offline``, which ships those files; they are served under ``/docs-assets`` and
the pages name no external URL. Without the package, ``/docs`` says how to install it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from cachekit.extras import missing

__all__ = ["ASSETS_URL", "assets_dir", "install_docs"]

ASSETS_URL = "/docs-assets"
_PACKAGE = "fastapi_offline"


def assets_dir() -> Path | None:
    """The folder of the Swagger UI and ReDoc files, or None when the package is absent."""
    if missing(_PACKAGE, "server", "offline API docs"):
        return None
    import fastapi_offline

    folder = Path(fastapi_offline.__file__).resolve().parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def install_docs(app: FastAPI, *, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve Swagger UI at ``docs_url`` and ReDoc at ``redoc_url``, assets included."""
    folder = assets_dir()
    if folder is not None:
        app.mount(ASSETS_URL, StaticFiles(directory=folder), name="cachekit-docs-assets")

    def page(request: Request, kind: str) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        openapi_url = f"{root}{app.openapi_url}"
        assets = f"{root}{ASSETS_URL}"
        if folder is None:
            text = missing(_PACKAGE, "server", "offline API docs") or "assets missing"
            body = f"<p>The API docs need their assets: {text}. The schema: "
            return HTMLResponse(body + f'<a href="{openapi_url}">{openapi_url}</a></p>', 503)
        if kind == "swagger":
            return get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{app.title} - Swagger UI",
                swagger_js_url=f"{assets}/swagger-ui-bundle.js",
                swagger_css_url=f"{assets}/swagger-ui.css",
                swagger_favicon_url=f"{assets}/favicon.png",
            )
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{assets}/favicon.png",
            with_google_fonts=False,
        )

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return page(request, "swagger")

    @app.get(redoc_url, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        return page(request, "redoc")
