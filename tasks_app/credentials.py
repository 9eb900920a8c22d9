"""Per-user credentials, encrypted with Fernet (XANTUUS_ENCRYPTION_KEY, else derived from SECRET_KEY).

The plaintext exists only in memory, on its way into a ToolContext.
"""
from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db.models import Exists, OuterRef

from . import audit
from .control_data import WebhookEndpoint
from .models import Credential, Task
from .owner_facts import known
from .redact import keyed_secrets

HAS_CREDENTIALS, HAS_WEBHOOKS = "owner_has_credentials", "owner_has_webhooks"


def _fernet() -> Fernet:
    key = settings.XANTUUS_ENCRYPTION_KEY
    if not key:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"xantuus-credentials", info=b"fernet").derive(
            settings.SECRET_KEY.encode())
        key = base64.urlsafe_b64encode(derived).decode()
    return Fernet(key)


def seal(plaintext: str) -> str:
    """Encrypt one secret for a column of its own (a webhook's signing secret)."""
    return _fernet().encrypt(plaintext.encode()).decode()


def unseal(ciphertext: str) -> str:
    """The plaintext of seal(); InvalidToken when the key changed since."""
    return _fernet().decrypt(ciphertext.encode()).decode()


def store(*, user_id: int, provider: str, secret: dict[str, Any] | str) -> None:
    """Encrypt and keep `secret` (any JSON value: OAuth fields, or a plain setting like "gmail")."""
    ciphertext = _fernet().encrypt(json.dumps(secret).encode()).decode()
    _, created = Credential.objects.update_or_create(user_id=user_id, provider=provider,
                                                     defaults={"ciphertext": ciphertext})
    audit.record("credentials.changed", owner_id=user_id, target_type="credential", target_id=provider,
                 details={"provider": provider, "change": "added" if created else "replaced"})


def load_all(*, user_id: int) -> dict[str, Any]:
    """Every credential of the user, by provider; one that no longer decrypts is left out."""
    result: dict[str, Any] = {}
    for row in Credential.objects.filter(user_id=user_id):
        try:
            result[row.provider] = json.loads(_fernet().decrypt(row.ciphertext.encode()))
        except InvalidToken:
            continue  # the key changed: the user must connect the account again
    return result


def owner_facts() -> dict[str, Any]:
    """Whether the owner stores any secret that secret_values() reads (tasks_app/owner_facts.py)."""
    return {HAS_CREDENTIALS: Exists(Credential.objects.filter(user_id=OuterRef("user_id"))),
            HAS_WEBHOOKS: Exists(WebhookEndpoint.objects.filter(user_id=OuterRef("user_id")))}


def secret_values_of_owner(task: Task) -> set[str]:
    """secret_values() of the task's owner, without a query when the step read that they store none."""
    if known(task, HAS_CREDENTIALS) is False and known(task, HAS_WEBHOOKS) is False:
        return set()
    return secret_values(user_id=task.user_id)


def secret_values(*, user_id: int | None) -> set[str]:
    """The secrets among the user's stored credentials (tokens, keys, passwords) and their webhooks'
    signing secrets: masked by value in every step of their tasks, whichever tool it runs (a page may
    echo a token it was never given)."""
    if user_id is None:
        return set()
    found = keyed_secrets(load_all(user_id=user_id))
    for ciphertext in WebhookEndpoint.objects.filter(user_id=user_id).values_list("secret_ciphertext", flat=True):
        try:
            secret = unseal(ciphertext)
        except InvalidToken:
            continue
        found.update({secret, secret.removeprefix("whsec_")})
    return found


def connected(*, user_id: int) -> list[dict[str, Any]]:
    """The user's providers with when each was last stored; nothing is decrypted."""
    rows = Credential.objects.filter(user_id=user_id).order_by("provider")
    return [{"provider": provider, "updated_at": updated} for provider, updated in
            rows.values_list("provider", "updated_at")]


def remove(*, user_id: int, provider: str) -> bool:
    removed = Credential.objects.filter(user_id=user_id, provider=provider).delete()[0] > 0
    if removed:
        audit.record("credentials.changed", owner_id=user_id, target_type="credential", target_id=provider,
                     details={"provider": provider, "change": "removed"})
    return removed
