"""The one exception tree of tokenwire.

    TokenwireError                  code, message, status, retryable
    ├── BadRequest                  400 invalid_request: malformed JSON, frames, fields
    │   └── PayloadTooLarge         413 payload_too_large
    ├── Unauthorized                401 unauthorized: missing or unknown token
    ├── Forbidden                   403 forbidden: e.g. a WebSocket from a foreign origin
    ├── NotFound                    404 not_found: unknown ids, and other users' resources
    ├── Conflict                    409 conflict
    │   └── LeaseLost               409 lease_lost: another instance owns the reply now
    ├── Unprocessable               422 unprocessable: well-formed but unusable input
    ├── RateLimited                 429 rate_limited (retry_after)
    ├── Unavailable                 503 unavailable (retry_after): queue full, backend down
    └── ProviderError               502 provider_error: the model failed; ``retryable`` says
                                    whether the same request may succeed later

Third-party errors are translated into these in exactly one place per integration
(the provider modules, the store), always with ``raise ... from exc``.
"""

from __future__ import annotations


class TokenwireError(Exception):
    code = "internal_error"
    status = 500
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param  # the request field at fault, when one is
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable
        self.retry_after = retry_after


class BadRequest(TokenwireError):
    code = "invalid_request"
    status = 400


class PayloadTooLarge(BadRequest):
    code = "payload_too_large"
    status = 413


class Unauthorized(TokenwireError):
    code = "unauthorized"
    status = 401


class Forbidden(TokenwireError):
    """Refused whoever asks (never for another user's data: that is ``NotFound``)."""

    code = "forbidden"
    status = 403


class NotFound(TokenwireError):
    code = "not_found"
    status = 404


class Conflict(TokenwireError):
    code = "conflict"
    status = 409


class LeaseLost(Conflict):
    """An instance wrote to a reply whose lease another instance had taken over."""

    code = "lease_lost"


class Unprocessable(TokenwireError):
    code = "unprocessable"
    status = 422


class RateLimited(TokenwireError):
    code = "rate_limited"
    status = 429
    retryable = True


class Unavailable(TokenwireError):
    code = "unavailable"
    status = 503
    retryable = True


class ProviderError(TokenwireError):
    code = "provider_error"
    status = 502
