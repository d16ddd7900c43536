"""Listings page by cursor: an opaque token that says where the last page stopped (the
row's sort time and id), so a page costs the same at the millionth row as at the first
and a row written meanwhile is neither skipped nor seen twice."""

import base64
from datetime import datetime

from fastapi import HTTPException, status

SEPARATOR = "|"


def cursor_after(at: datetime, key: str) -> str:
    """The token of the next page: it starts after the row (at, key)."""
    return base64.urlsafe_b64encode(f"{at.isoformat()}{SEPARATOR}{key}".encode()).decode()


def read_cursor(token: str | None) -> tuple[datetime, str] | None:
    """A page's starting point, or None for the first page; a token the API did not
    give is a 422."""
    if not token:
        return None
    try:
        at, key = base64.urlsafe_b64decode(token.encode()).decode().split(SEPARATOR, 1)
        return datetime.fromisoformat(at), key
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "not a cursor of this API"
        ) from exc
