"""The order of the API's routers decides only how soon a request finds its route.

``api/app.py`` puts the routers replies take first, because FastAPI tries routes in order.
That is safe while no request can match routes of two routers: this builds, for every route,
the paths its template can take (each parameter replaced by every literal segment of any
route, and by an id) and checks that no route of another router answers one of them with a
method in common. The page's static files, mounted at ``/``, answer every path and stay last.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute, Mount

from tests.helpers.routes import api_routes
from tokenwire.api.app import create_app
from tokenwire.settings import Settings

Route = APIRoute | APIWebSocketRoute
ID = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"


def by_router(routes: list[BaseRoute]) -> Iterator[tuple[int, Route]]:
    """Each API route with the index of the app's entry (an included router) holding it."""
    for index, entry in enumerate(routes):
        for route in api_routes([entry]):
            yield index, route


def methods(route: Route) -> set[str]:
    return set(route.methods) if isinstance(route, APIRoute) else {"WEBSOCKET"}


def paths(template: str, words: set[str]) -> Iterator[str]:
    params = re.findall(r"\{[^}]+\}", template)
    for values in itertools.product(sorted(words), repeat=len(params)):
        path = template
        for param, value in zip(params, values, strict=True):
            path = path.replace(param, value, 1)
        yield path


def test_no_request_matches_routes_of_two_routers() -> None:
    app = create_app(Settings())
    routes = list(by_router(app.router.routes))
    assert len({index for index, _ in routes}) > 10
    words = {ID} | {
        part for _, r in routes for part in r.path_format.split("/") if part and "{" not in part
    }
    overlaps = [
        f"{sorted(methods(a))} {a.path_format} ~ {sorted(methods(b))} {b.path_format}"
        for (i, a), (j, b) in itertools.permutations(routes, 2)
        if i != j
        and methods(a) & methods(b)
        and any(b.path_regex.match(path) for path in paths(a.path_format, words))
    ]
    assert overlaps == []


def test_a_reply_s_routes_come_first_and_the_page_last() -> None:
    app = create_app(Settings())
    routes = list(by_router(app.router.routes))
    position = {route.path_format: index for index, route in routes}
    first = min(position.values())
    assert position["/api/v1/conversations/{cid}/messages"] == first
    assert position["/v1/chat/completions"] <= first + 1
    assert position["/api/v1/conversations/{cid}/ws"] <= first + 2
    assert isinstance(app.router.routes[-1], Mount)
    assert app.router.routes[-1].path == ""
