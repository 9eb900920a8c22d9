"""/api/prices: the price history of your monitors (every reading: url, price, currency, run).

Read only; rows are written by browser_automation runs. Another user's readings never show.
"""
# ruff: noqa: N815  (field names are the wire names)
from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from tasks_app import account_selectors
from tasks_app.agent_data import PriceObservation

from .schema import errors, page_of
from .views import MAX_ID, JSONAPIView, Pagination, user_of


class PriceReadingSerializer(serializers.Serializer):
    id = serializers.CharField()
    taskId = serializers.CharField(source="task_id")
    run = serializers.IntegerField()
    url = serializers.CharField()
    price = serializers.CharField(allow_null=True, help_text="a decimal string, e.g. '1299.0000'")
    currency = serializers.CharField(allow_blank=True)
    text = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True)
    observedAt = serializers.SerializerMethodField()

    def get_observedAt(self, row: PriceObservation) -> str:  # noqa: N802  (the wire name)
        return row.observed_at.isoformat().replace("+00:00", "Z")


PriceReadingPageSerializer = page_of(PriceReadingSerializer)


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
        rows = account_selectors.price_readings_for_user(
            user=user_of(request), task_id=request.query_params.get("taskId", "")[:MAX_ID],
            url=request.query_params.get("url", "")[:2048])
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(PriceReadingSerializer(page or [], many=True).data)


urlpatterns = [path("prices", PriceListView.as_view(), name="price-list")]
