"""/api/credits: your balance and usage, and your credit ledger (paged). Read only; another user's never show.

Credits are granted by an operator (the admin, `manage.py grant_credits`), never through the API.
"""
# ruff: noqa: N815  (field names are the wire names)
from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from tasks_app import credits
from tasks_app.credit_ledger import CreditEntry

from .fields import StrictCharField
from .schema import errors, page_of
from .views import MAX_ID, JSONAPIView, Pagination, user_of, validated


class UsageWindowSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="credits charged in the window")
    byAgentType = serializers.DictField(child=serializers.IntegerField(), help_text="credits by agent type "
                                                                                    "(custom: no type)")


class UsageSerializer(serializers.Serializer):
    last24h = UsageWindowSerializer()
    last7d = UsageWindowSerializer()
    last30d = UsageWindowSerializer()


class CreditSummarySerializer(serializers.Serializer):
    balance = serializers.IntegerField(help_text="credits left: every grant minus every charge")
    granted = serializers.IntegerField(help_text="every credit ever granted (AGENT_DEFAULT_CREDITS included)")
    usage = UsageSerializer()


class LedgerEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    createdAt = serializers.CharField()
    reason = serializers.ChoiceField(choices=CreditEntry.Reason.choices)
    amount = serializers.IntegerField(help_text="positive: granted; negative: charged")
    taskId = serializers.CharField(allow_null=True)
    run = serializers.IntegerField(allow_null=True)
    step = serializers.IntegerField(help_text="0: planning (or not a step)")
    action = serializers.CharField(allow_null=True)
    agentType = serializers.CharField(allow_null=True)
    model = serializers.CharField(allow_null=True, help_text="the model whose tokens were priced (tokens)")
    inputTokens = serializers.IntegerField()
    outputTokens = serializers.IntegerField()
    note = serializers.CharField(allow_blank=True)


LedgerPageSerializer = page_of(LedgerEntrySerializer)


class LedgerQuerySerializer(serializers.Serializer):
    taskId = StrictCharField(max_length=MAX_ID, required=False)
    reason = serializers.ChoiceField(choices=CreditEntry.Reason.choices, required=False)
    page = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
    pageSize = serializers.IntegerField(min_value=1, max_value=100, required=False)


class CreditSummaryView(JSONAPIView):
    @extend_schema(summary="Your credit balance and usage (last 24 h, 7 d, 30 d, by agent type), from the ledger",
                   responses={200: CreditSummarySerializer, **errors()})
    def get(self, request: Request) -> Response:
        return Response(CreditSummarySerializer(credits.credit_summary(user=user_of(request))).data)


class LedgerView(JSONAPIView):
    @extend_schema(summary="Your credit ledger, newest first: grants and every charge with its task, run and step",
                   parameters=[LedgerQuerySerializer], responses={200: LedgerPageSerializer, **errors(400, 404)})
    def get(self, request: Request) -> Response:
        query = validated(LedgerQuerySerializer, request.query_params).validated_data
        credits.credit_balance(user=user_of(request))  # a new user's signup grant is the first row
        rows = credits.ledger_for_user(user=user_of(request), filters=query)
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response([credits.entry_as_json(row) for row in page or []])


urlpatterns = [
    path("credits", CreditSummaryView.as_view(), name="credit-summary"),
    path("credits/ledger", LedgerView.as_view(), name="credit-ledger"),
]
