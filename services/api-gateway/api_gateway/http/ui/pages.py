"""Serve the web page's static files at /ui/, without authentication, with strict headers.

The files hold no data: the page's script asks for an API key and calls /api/v1 with it, so
loading them needs no key. Only the files shipped in `static/` are served (read once at import,
looked up by exact name, so no path from a request ever reaches the file system). The Content
Security Policy allows scripts, styles and API calls from this origin only and no inline code,
so a device name or session field can never run as script, whatever it contains.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

PATH = "/ui"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        # The forms are handled by the script; a native submit (script broken) must not put
        # the API key into a URL.
        "form-action 'none'",
        "frame-ancestors 'none'",
        # The script builds the page with textContent and DOM nodes only; no HTML from strings.
        "require-trusted-types-for 'script'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    # Revalidate every time (cheap with the ETag) so a new gateway never runs an old script.
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    media_type: str
    etag: str


def _load(folder: Traversable, prefix: str = "") -> dict[str, StaticFile]:
    files: dict[str, StaticFile] = {}
    for entry in folder.iterdir():
        name = prefix + entry.name
        if entry.is_dir():
            files.update(_load(entry, name + "/"))
            continue
        media_type = MEDIA_TYPES.get("." + entry.name.rsplit(".", 1)[-1])
        if media_type is not None:
            body = entry.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            files[name] = StaticFile(body, media_type, etag)
    return files


FILES = _load(resources.files("api_gateway.http.ui").joinpath("static"))
INDEX = "index.html"

router = APIRouter(include_in_schema=False)


@router.api_route(PATH, methods=["GET", "HEAD"])
def ui_root() -> RedirectResponse:
    # The page's relative URLs (app.css, ../api/v1) need the trailing slash.
    return RedirectResponse(f"{PATH}/", status_code=308)


@router.api_route(f"{PATH}/", methods=["GET", "HEAD"])
def ui_index(request: Request) -> Response:
    return _serve(request, INDEX)


@router.api_route(PATH + "/{name:path}", methods=["GET", "HEAD"])
def ui_file(request: Request, name: str) -> Response:
    return _serve(request, name)


def _serve(request: Request, name: str) -> Response:
    found = FILES.get(name)
    if found is None:
        return Response(
            "not found\n", status_code=404, media_type="text/plain", headers=SECURITY_HEADERS
        )
    headers = {**SECURITY_HEADERS, "ETag": found.etag}
    if request.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=found.media_type, headers=headers)
