"""``/api/v1/session``: the page's sign-in, kept in an HttpOnly cookie.

The page opened with ``/?token=...`` trades the token for a session (``POST`` with the
token as a bearer): the answer sets ``tokenwire_session``, HttpOnly (no script reads it) and
SameSite=Strict (no other site's page sends it), for ``SESSION_TTL``. Every tab, and the
browser after a restart, is then signed in without the token. ``DELETE`` signs out: the
session's row is deleted, so the cookie stops working everywhere at once. API clients keep
sending ``Authorization: Bearer``; it always wins over a cookie (api/deps.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi import status as http_status

from tokenwire.api.deps import CurrentUser, EngineDep, StoreDep, cookie_allowed, get_tokens
from tokenwire.api.resources import Resource, answers
from tokenwire.errors import Unauthorized
from tokenwire.http.auth import SESSION_COOKIE, bearer_token, session_secret
from tokenwire.protocol import resources as wire
from tokenwire.store.sessions import SESSION_TTL

router = APIRouter(prefix="/api/v1", tags=["session"])


@router.post(
    "/session", status_code=201, response_model=None, responses=answers(wire.SignedIn, 201)
)
async def sign_in(
    request: Request, user: CurrentUser, store: StoreDep, engine: EngineDep
) -> Resource:
    """Start a browser session for the bearer token's user and set its cookie."""
    if bearer_token(request) is None:
        raise Unauthorized("sign in with the token as a bearer: Authorization: Bearer TOKEN")
    secret = await store.create_session(user.id)
    answer = Resource(wire.SignedIn(user.name, engine.takes_images), status_code=201)
    answer.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(SESSION_TTL.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return answer


@router.get("/session", response_model=None, responses=answers(wire.SignedIn))
async def signed_in(user: CurrentUser, engine: EngineDep) -> Resource:
    """Who this request signs in as (the cookie's user, or the bearer's)."""
    return Resource(wire.SignedIn(user.name, engine.takes_images))


@router.delete("/session", status_code=204, response_model=None)
async def sign_out(request: Request, store: StoreDep) -> Response:
    """End this browser's session and clear its cookie. Signing out twice is no error."""
    secret = session_secret(request)
    if secret is not None and cookie_allowed(request):
        await store.revoke_session(secret)
        get_tokens(request).forget_session(secret)
    answer = Response(status_code=http_status.HTTP_204_NO_CONTENT)
    answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return answer
