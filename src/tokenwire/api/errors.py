"""Every error leaves as ``{"error": {"code", "message"}}`` with the status it deserves
(``http/errors.py`` builds it); here the app's handlers for each kind of failure."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from tokenwire.errors import TokenwireError
from tokenwire.http.errors import error_answer, error_response

log = logging.getLogger("tokenwire.api")

_HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _describe(errors: list[Any]) -> tuple[int, str, str]:
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return (
            400,
            "invalid_json",
            f"request body is not valid JSON: {first.get('msg', '')}".strip(),
        )
    parts = []
    for err in errors[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {err.get('msg')}")
    return 422, "invalid_request", "; ".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(TokenwireError)
    async def _tokenwire(_: Request, exc: TokenwireError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        status, code, message = _describe(list(exc.errors()))
        return error_answer(status, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return error_answer(exc.status_code, code, str(exc.detail), exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_answer(500, "internal_error", "internal server error")
