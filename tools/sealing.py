"""Sealing secrets that must survive between steps (a typed password in the browser's tool
state): encrypted with a key derived from the server's secret, so the admin, the trace and
the database only ever hold the sealed form."""
from __future__ import annotations

import base64
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .config import setting
from .errors import ToolError

SEALED = "sealed"


def _fernet() -> Fernet:
    secret = setting("SECRET_KEY", "")
    if not secret:
        raise ToolError("no SECRET_KEY to seal secrets with")
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"xantuus-tool-state", info=b"fernet").derive(
        secret.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(value: str) -> dict[str, str]:
    return {SEALED: _fernet().encrypt(value.encode()).decode()}


def unseal(value: Any) -> str:
    """A plain string as it is; a sealed one decrypted (a changed secret key: a clear error)."""
    if not isinstance(value, dict):
        return str(value)
    try:
        return _fernet().decrypt(str(value.get(SEALED, "")).encode()).decode()
    except InvalidToken:
        raise ToolError("a sealed value of this task's browser state cannot be read (SECRET_KEY changed?)") from None
