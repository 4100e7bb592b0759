"""The operators' web page at /ui/: static files in `static/`, served by `pages.router`."""

from api_gateway.http.ui.pages import router

__all__ = ["router"]
