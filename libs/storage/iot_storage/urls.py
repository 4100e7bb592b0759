"""PostgreSQL URLs: the same server, another database or role."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit


def database_url(server_url: str, database: str, user: str | None = None) -> str:
    """server_url pointed at another database, and as another user (without password) if given."""
    parts = urlsplit(server_url)
    netloc = parts.netloc
    if user is not None:
        netloc = f"{quote(user, safe='')}@{netloc.rpartition('@')[2]}"
    return urlunsplit(parts._replace(netloc=netloc, path="/" + quote(database, safe="")))
