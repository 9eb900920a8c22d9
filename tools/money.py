"""Money read from a page's text: an amount and its ISO currency, parsed with price-parser.

It must never guess a price from text that holds none: no number means no amount, and
the caller reports it as such instead of comparing a zero.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from price_parser import Price

# price-parser returns the currency as written on the page; a monitor compares ISO codes.
# "$" alone is read as USD (the usual meaning on an unlabelled page); "kr" (SEK, NOK, DKK,
# ISK) and other ambiguous symbols stay as written, comparable only with the same symbol.
SYMBOLS = {
    "$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "₽": "RUB",
    "₺": "TRY", "₪": "ILS", "₴": "UAH", "₱": "PHP", "฿": "THB", "₫": "VND", "R$": "BRL", "A$": "AUD",
    "AU$": "AUD", "C$": "CAD", "CA$": "CAD", "NZ$": "NZD", "HK$": "HKD", "S$": "SGD", "Fr.": "CHF",
    "Fr": "CHF", "SFr.": "CHF", "zł": "PLN", "Kč": "CZK", "Ft": "HUF",
}
ISO_CODES = frozenset(SYMBOLS.values()) | {"SEK", "NOK", "DKK", "ISK", "CNY", "MXN", "ZAR", "AED", "SAR"}

# Swiss prices group thousands with an apostrophe, often a typographic one (CHF 1’299.50);
# price-parser knows only the ASCII apostrophe and would read 1.
_APOSTROPHES = re.compile("[\u2019\u02bc\u2032\uff07]")
# price-parser finds upper-case codes anywhere but misses "usd 99"; look for a known code.
_CODE = re.compile(r"(?<![A-Za-z])(" + "|".join(sorted(ISO_CODES)) + r")(?![A-Za-z])", re.IGNORECASE)
# The price store keeps 18 digits with 4 decimals; anything larger is not a price.
MAX_AMOUNT = Decimal("1e13")


@dataclass(frozen=True)
class Money:
    amount: Decimal | None  # None: the text holds no price
    currency: str | None  # an ISO code where known ("USD"), else the symbol as written, else None


def currency_code(written: str | None) -> str | None:
    """The ISO code for a currency as a page or a config writes it ("€", "us$", "chf")."""
    if not written or not written.strip():
        return None
    written = written.strip()
    if written in SYMBOLS:
        return SYMBOLS[written]
    if re.fullmatch(r"[A-Za-z]{3}", written):
        return written.upper()
    return written


def parse_price(text: str | None) -> Money:
    """The first price in `text`: "$1,299.00", "1.299,00 €", "CHF 1'299.50", "USD 99"."""
    cleaned = _APOSTROPHES.sub("'", text or "")
    parsed = Price.fromstring(cleaned)
    currency = currency_code(parsed.currency)
    if currency is None and (code := _CODE.search(cleaned)):
        currency = code.group(1).upper()
    amount = parsed.amount
    if amount is not None and abs(amount) >= MAX_AMOUNT:
        amount = None
    return Money(amount=amount, currency=currency)


def format_money(amount: Decimal | float | None, currency: str | None) -> str:
    """'1299.00 EUR' for messages; '(none)' when there is no amount."""
    if amount is None:
        return "(none)"
    value = Decimal(str(amount))
    text = f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else f"{value.normalize():f}"
    return f"{text} {currency}" if currency else text
