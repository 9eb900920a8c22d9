"""Collision-resistant string ids in the spirit of the seed's cuid()."""
import secrets
import time

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(number: int) -> str:
    digits = []
    while number:
        number, rem = divmod(number, 36)
        digits.append(_ALPHABET[rem])
    return "".join(reversed(digits)) or "0"


def new_id() -> str:
    """'c' + milliseconds in base 36 + 64 random bits: sortable by creation, 25 chars."""
    return "c" + _base36(time.time_ns() // 1_000_000).rjust(9, "0") + secrets.token_hex(8)[:15]
