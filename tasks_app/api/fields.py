"""Strict input fields: strings must be strings, JSON objects small and free of NUL characters."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from croniter import croniter
from rest_framework import serializers

MAX_JSON_BYTES = 64 * 1024


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of turning them into strings."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


class JSONObjectField(serializers.DictField):
    """A JSON object of bounded size (PostgreSQL's jsonb refuses NUL characters: so do we)."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        if _has_nul(value):
            raise serializers.ValidationError("must not contain NUL (\\u0000) characters")
        if len(json.dumps(value)) > MAX_JSON_BYTES:
            raise serializers.ValidationError(f"must be at most {MAX_JSON_BYTES} bytes of JSON")
        return value


class StrictSerializer(serializers.Serializer):
    """Rejects body fields it does not know (a typo must not be silently ignored)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            known = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(key) for key in data if key not in known)
            if unknown:
                raise serializers.ValidationError({key: ["unknown field"] for key in unknown})
        return super().to_internal_value(data)


def validate_schedule(config: dict[str, Any] | None) -> None:
    """agentConfig.schedule, when given, must be a 5-field cron expression croniter accepts."""
    if not config or config.get("schedule") is None:
        return
    schedule = config["schedule"]
    if not isinstance(schedule, str) or not croniter.is_valid(schedule) or len(schedule.split()) != 5:
        raise serializers.ValidationError(
            {"schedule": [f"invalid cron expression {schedule!r}: expected 5 fields, e.g. '0 9 * * *'"]}
        )
