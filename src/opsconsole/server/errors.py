"""RFC 9457 problem details: every error the API returns says what went wrong and what to do."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("opsconsole.errors")

PROBLEM_BASE = "https://opsconsole.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(Exception):  # noqa: N818 - it is the RFC's name for the thing
    """An error to return as problem details.

    Args:
        status: HTTP status code.
        kind: the problem type's last path segment, e.g. ``step-up-required``.
        title: a short summary that does not change between occurrences.
        detail: what happened this time and what the caller can do about it.
        headers: extra response headers (``Retry-After``, ``WWW-Authenticate``).
        extra: extension members placed beside the standard ones.
    """

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


def not_found(what: str, key: object) -> Problem:
    return Problem(404, "not-found", "Not found", f"No {what} with id {key!r} exists.")


def conflict(detail: str) -> Problem:
    return Problem(409, "conflict", "Conflict", detail)


def bad_request(detail: str, **extra: Any) -> Problem:
    return Problem(400, "bad-request", "Bad request", detail, **extra)


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    instance = request.url.path if request is not None else None
    return JSONResponse(
        problem.body(instance),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


_STATUS_KINDS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("body-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kind, title = _STATUS_KINDS.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"There is no endpoint at {request.url.path}; see /docs for the API."
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    problem = Problem(exc.status_code, kind, title, detail, headers=dict(exc.headers or {}))
    return problem_response(problem, request)


def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error.get("loc", ()))
        errors.append({"field": location, "message": error.get("msg", "invalid")})
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    problem = Problem(
        422,
        "validation-error",
        "Invalid request",
        f"The request does not match the API: {summary}. Fix the named fields and retry.",
        errors=errors,
    )
    return problem_response(problem, request)


def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc, request)


def internal_error() -> Problem:
    return Problem(
        500,
        "internal-error",
        "Internal server error",
        "The server failed to handle this request; nothing was changed. The error is logged "
        "on the server; retry, and report it if it persists.",
    )


def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Starlette runs this handler in a worker thread, outside the `except` block: pass the
    # exception explicitly or the traceback is lost from the log.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(internal_error(), request)


class UnhandledErrors:
    """Answer an unhandled exception with a 500 problem and keep the connection usable.

    Starlette's own last-resort handler re-raises after answering, and uvicorn then closes the
    keep-alive connection: a client's next request on it fails with a read error. This
    middleware sits inside it and does not re-raise once it has answered.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            request = Request(scope)
            log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
            await problem_response(internal_error(), request)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)
