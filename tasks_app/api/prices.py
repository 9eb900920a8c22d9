"""/api/prices: the price history of your monitors (every reading: url, price, currency, run).

Read only; rows are written by browser_automation runs. Another user's readings never show.
"""
# ruff: noqa: N815  (field names are the wire names)
from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from tasks_app.agent_data import PriceObservation

from .schema import errors, page_of
from .views import MAX_ID, JSONAPIView, Pagination, user_of


class PriceReadingSerializer(serializers.Serializer):
    id = serializers.CharField()
    taskId = serializers.CharField()
    run = serializers.IntegerField()
    url = serializers.CharField()
    price = serializers.CharField(allow_null=True, help_text="a decimal string, e.g. '1299.0000'")
    currency = serializers.CharField(allow_blank=True)
    text = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True)
    observedAt = serializers.CharField()


PriceReadingPageSerializer = page_of(PriceReadingSerializer)


def describe(row: PriceObservation) -> dict[str, Any]:
    return {"id": row.id, "taskId": row.task_id, "run": row.run, "url": row.url,
            "price": None if row.price is None else str(row.price), "currency": row.currency, "text": row.text,
            "error": row.error, "observedAt": row.observed_at.isoformat().replace("+00:00", "Z")}


class PriceListView(JSONAPIView):
    @extend_schema(
        summary="Your price readings, newest first (filters: taskId, url)",
        parameters=[OpenApiParameter("taskId", str, required=False), OpenApiParameter("url", str, required=False),
                    OpenApiParameter("page", int, required=False), OpenApiParameter("pageSize", int, required=False)],
        responses={200: PriceReadingPageSerializer, **errors(400, 404)},
    )
    def get(self, request: Request) -> Response:
        for name in ("taskId", "url"):
            if "\x00" in request.query_params.get(name, ""):
                raise ValidationError({name: ["must not contain NUL (\\u0000) characters"]})
        rows = PriceObservation.objects.filter(owner=user_of(request))
        if task_id := request.query_params.get("taskId", "")[:MAX_ID]:
            rows = rows.filter(task_id=task_id)
        if url := request.query_params.get("url", "")[:2048]:
            rows = rows.filter(url=url)
        paginator = Pagination()
        page = paginator.paginate_queryset(rows.order_by("-observed_at", "-id"), request, view=self)
        return paginator.get_paginated_response([describe(row) for row in page or []])


urlpatterns = [path("prices", PriceListView.as_view(), name="price-list")]
