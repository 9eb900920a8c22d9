"""The API's JSON parser: DRF's, with a bound on nesting (a 400 in the error format, never a RecursionError)."""
from __future__ import annotations

import codecs
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

from tasks_app import json_depth


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
            return json_depth.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as exc:  # TooDeep is one
            raise ParseError(f"JSON parse error - {exc}") from None
