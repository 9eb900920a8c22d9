"""The API's router: DRF's SimpleRouter with the seed's path shapes.

No trailing slash and `<str:...>` converters, as the seed's paths are written. The seed also puts
two actions before the id (`agent/execute/{taskId}`, `agent/status/{taskId}`): an action marked
with `id_last` gets that route, ahead of the `{prefix}/{id}/{action}` ones so that, as before,
`agent/execute/pause` is the execute route of a task called "pause".
"""
from __future__ import annotations

from typing import Any, TypeVar

from rest_framework.routers import DynamicRoute, Route, SimpleRouter

F = TypeVar("F")

ID_LAST_URL = "{prefix}/{url_path}/{lookup}"


def id_last(action: F) -> F:
    """Mark a detail @action whose path is `{prefix}/{action}/{id}` (put it above @action)."""
    action.id_last = True  # type: ignore[attr-defined]
    return action


class Router(SimpleRouter):
    def __init__(self) -> None:
        super().__init__(trailing_slash=False, use_regex_path=False)

    def _get_dynamic_route(self, route: DynamicRoute, action: Any) -> Route:
        if route.detail and getattr(action, "id_last", False):
            route = route._replace(url=ID_LAST_URL)
        return super()._get_dynamic_route(route, action)

    def get_routes(self, viewset: Any) -> list[Route]:
        return sorted(super().get_routes(viewset), key=lambda route: not _is_id_last(route))  # a stable sort


def _is_id_last(route: Route) -> bool:
    return route.url.endswith("/{lookup}") and not route.url.startswith("{prefix}/{lookup}")
