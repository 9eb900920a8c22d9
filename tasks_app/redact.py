"""Secrets never enter traces, logs or events: masked by key name and by value.

By key: values under secret-looking keys (headers such as `X-Custom-Auth` included) and
secret-looking URL query parameters. By value: every secret the engine knows (the
operator's configured keys, the user's stored credentials a tool was given, values a tool
marked secret during the call, such as a password typed into a form) is replaced wherever
it appears, inside longer strings too.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings

SECRET_KEY = re.compile(r"((^|[-_])auth([-_]|$)|authori[sz]ation|api[-_]?key|token|password|passwd|secret"
                        r"|cookie|credential|signature)", re.I)
SECRET_PARAM = re.compile(r"^(key|sig|code|.*(token|secret|password|passwd|api[-_]?key|auth|signature).*)$", re.I)
URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s\"'<>]+", re.I)
MASK = "[redacted]"
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words
NOT_SECRET_KEY = re.compile(r"(ur[il]|_?count|tokens)$", re.I)  # token_uri, max_tokens: where, not what
CONFIGURED = ("ANTHROPIC_API_KEY", "WEB_SEARCH_API_KEY", "EMAIL_HOST_PASSWORD", "GOOGLE_CLIENT_SECRET",
              "AGENT_IMAGE_PROVIDER_KEY", "AGENT_ENRICHMENT_KEY", "AGENT_METRICS_TOKEN", "XANTUUS_ENCRYPTION_KEY",
              "SECRET_KEY")


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """`value` with every secret masked: by key, in URLs' query strings, and by value."""
    known = sorted({*configured_secrets(), *_strings(secrets)}, key=len, reverse=True)
    return _walk(value, known)


def redact_output(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A tool's output or error: known secrets and URL credentials masked, keys kept (a page's
    own "token" field is data, and an output's "tokens" count is not a secret)."""
    known = sorted({*configured_secrets(), *_strings(secrets)}, key=len, reverse=True)
    return _walk(value, known, by_key=False)


def secret_strings(value: Any) -> set[str]:
    """The string leaves of a credential (an OAuth token dict ...): what to mask by value."""
    return set(_strings([value]))


def keyed_secrets(value: Any) -> set[str]:
    """The values under secret-looking keys (an Authorization header, an API key in a body, a stored
    token): what to mask by value wherever else they turn up (a response that echoes them). A
    scheme's credential ("Bearer X") is masked alone too."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if SECRET_KEY.search(str(key)) and not NOT_SECRET_KEY.search(str(key)):
                for text in _strings([item]):
                    words = text.split()
                    found.update({text, *(words[-1:] if words and len(words[-1]) >= MIN_SECRET_LENGTH else [])})
            else:
                found |= keyed_secrets(item)
    elif isinstance(value, list):
        for item in value:
            found |= keyed_secrets(item)
    return found


def configured_secrets() -> tuple[str, ...]:
    """The operator's keys from settings, and the passwords in AGENT_DATABASES URLs."""
    found = [str(getattr(settings, name, "") or "") for name in CONFIGURED]
    for url in (getattr(settings, "AGENT_DATABASES", {}) or {}).values():
        target = url.get("url", "") if isinstance(url, dict) else str(url)
        found.append(urlsplit(target).password or "")
    return tuple(s for s in found if len(s) >= MIN_SECRET_LENGTH)


def _strings(values: Iterable[Any]) -> Iterable[str]:
    for value in values:
        if isinstance(value, str):
            if len(value) >= MIN_SECRET_LENGTH:
                yield value
        elif isinstance(value, dict):
            yield from _strings(value.values())
        elif isinstance(value, (list, tuple, set)):
            yield from _strings(value)


def _walk(value: Any, known: list[str], *, by_key: bool = True) -> Any:
    if isinstance(value, dict):
        return {k: MASK if by_key and SECRET_KEY.search(str(k)) and value[k] not in (None, "")
                else _walk(v, known, by_key=by_key) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, known, by_key=by_key) for v in value]
    if isinstance(value, str):
        return _mask_text(value, known)
    return value


def _mask_text(text: str, known: list[str]) -> str:
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    if "://" in text:
        text = URL.sub(lambda match: _mask_url(match.group(0)), text)
    return text


def _mask_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if parts.password:
        netloc = netloc.replace(f":{parts.password}@", f":{MASK}@", 1)
    if not parts.query and netloc == parts.netloc:
        return url
    query = [(k, MASK if SECRET_PARAM.match(k) and v else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    masked_query = urlencode(query, safe="[]") if any(SECRET_PARAM.match(k) for k, _ in query) else parts.query
    return urlunsplit((parts.scheme, netloc, parts.path, masked_query, parts.fragment))
