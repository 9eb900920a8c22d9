"""Prices read from page text: the amount and its ISO currency, for the formats shops really print."""
from __future__ import annotations

from decimal import Decimal

import pytest

from tools.money import currency_code, format_money, parse_price


@pytest.mark.parametrize(("text", "amount", "currency"), [
    # The six formats the seed's competitors print, each read as a person reads it.
    ("$1,299.00", "1299.00", "USD"),
    ("1.299,00 €", "1299.00", "EUR"),  # "." groups thousands, "," is the decimal point
    ("49,90 €", "49.90", "EUR"),  # not 4990
    ("USD 99", "99", "USD"),
    ("£1 049.50", "1049.50", "GBP"),
    ("CHF 1'299.50", "1299.50", "CHF"),
    # What pages do to them: typographic apostrophes, no-break and narrow spaces, lower-case codes.
    ("CHF 1\u2019299.50", "1299.50", "CHF"),
    ("1\u00a0299,00\u00a0€", "1299.00", "EUR"),
    ("£1\u202f049.50", "1049.50", "GBP"),
    ("usd 99", "99", "USD"),
    ("From $49/mo", "49", "USD"),
    ("EUR 1.299,00", "1299.00", "EUR"),
    ("A$ 12", "12", "AUD"),
    ("99.99", "99.99", None),  # a bare number: the amount, no currency
    ("Free", "0", None),
])
def test_prices_read_right(text: str, amount: str, currency: str | None) -> None:
    money = parse_price(text)
    assert (money.amount, money.currency) == (Decimal(amount), currency)


@pytest.mark.parametrize("junk", ["", "   ", "Sold out", "Contact us", "N/A", "—", "$", "€", "USD", None,
                                  "99.999.999.999.999.999.999"])
def test_text_without_a_price_has_no_amount(junk: str | None) -> None:
    assert parse_price(junk).amount is None


@pytest.mark.parametrize(("written", "code"), [("$", "USD"), ("€", "EUR"), ("£", "GBP"), ("chf", "CHF"),
                                               ("Fr.", "CHF"), ("kr", "kr"), ("", None), (None, None)])
def test_currency_codes(written: str | None, code: str | None) -> None:
    assert currency_code(written) == code


def test_money_in_messages() -> None:
    assert format_money(Decimal("1299"), "EUR") == "1299.00 EUR"
    assert format_money(49.9, None) == "49.90"
    assert format_money(Decimal("0.1234"), "USD") == "0.1234 USD"
    assert format_money(None, "USD") == "(none)"
