"""API errors: `{"error": {"code", "message"}}` with the right status; raise them in any route."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response

from gateway.responses import json_response


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def bad_request(message: str, code: str = "bad_request") -> ApiError:
    return ApiError(400, code, message)


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid_field", f"{field}: {message}")


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} does not exist")


def unauthorized(message: str = "a valid bearer token is required") -> ApiError:
    return ApiError(401, "unauthorized", message, {"WWW-Authenticate": "Bearer"})


def account_erased(challenge: bool = False) -> ApiError:
    """401: the caller's account is gone or being erased; `challenge` adds WWW-Authenticate
    where the token itself is what failed (its session check), not the command."""
    headers = {"WWW-Authenticate": "Bearer"} if challenge else None
    return ApiError(401, "account_erased", "this account was erased", headers)


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status, headers)
