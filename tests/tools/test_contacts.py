"""contacts' audience language: triggers and filter conditions are data, evaluated the same everywhere."""
from __future__ import annotations

from datetime import date

import pytest

from tools.contacts import Condition, as_text, matches, trigger_conditions

DAY = date(2026, 12, 2)
LIN = {"email": "lin@example.com", "name": "Lin", "plan": "trial", "signup_date": "2026-11-25",
       "attributes": {"country": "DE", "features_used": ["browser", "email"], "seats": 3}}


def test_triggers_stand_for_conditions_on_the_day():
    assert [c.model_dump() for c in trigger_conditions("trial_day_7", DAY)] == [
        {"field": "plan", "op": "eq", "value": "trial"}, {"field": "signupDate", "op": "eq", "value": "2026-11-25"}]
    assert [c.model_dump() for c in trigger_conditions("signup_day_30", DAY)] == [
        {"field": "signupDate", "op": "eq", "value": "2026-11-02"}]
    with pytest.raises(ValueError, match="unknown trigger 'trial_week_1'; known: trial_day_N"):
        trigger_conditions("trial_week_1", DAY)


@pytest.mark.parametrize(("field", "op", "value", "expected"), [
    ("plan", "eq", "trial", True), ("plan", "ne", "trial", False),
    ("attributes.country", "in", ["DE", "AT"], True), ("country", "nin", ["DE"], False),
    ("signupDate", "gte", {"daysAgo": 7}, True), ("signupDate", "gt", {"daysAgo": 7}, False),
    ("signup_date", "lt", "2026-12-01", True), ("attributes.seats", "lte", 2, False),
    ("attributes.seats", "gt", "two", False),  # a number against text: no match, no error
    ("features_used", "contains", "email", True), ("name", "contains", "Li", True),
    ("attributes.referrer", "exists", True, False), ("attributes.referrer", "exists", False, True),
    ("email", "eq", "LIN@example.com", True),
])
def test_conditions(field, op, value, expected):
    assert matches(LIN, Condition(field=field, op=op, value=value), DAY) is expected


def test_in_needs_a_list_and_personalization_values_read_as_text():
    with pytest.raises(ValueError, match="op in needs a list"):
        Condition(field="plan", op="in", value="trial")
    assert (as_text(["browser", "email"]), as_text(3), as_text(None), as_text(True)) == ("browser, email", 3, None,
                                                                                         "True")
