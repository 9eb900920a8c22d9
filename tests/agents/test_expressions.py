"""The safe reference language: the seed's syntax works as written, nothing is evaluated."""
import pytest

from agents.expressions import ExpressionError, references, resolve

CONTEXT = {
    "step1": {"result": [11, 12, 13, 14, 15, 16, 17]},
    "step2": {"result": [{"title": "A", "score": 3}, {"title": "B", "score": 5}]},
    "step3": {"result": "a summary"},
    "user": {"email": "ada@example.com"},
}


def test_seed_slice_keeps_the_list():
    assert resolve("{step1.result.slice(0,5)}", CONTEXT) == [11, 12, 13, 14, 15]


def test_whole_reference_takes_the_value_and_embedded_ones_are_formatted():
    assert resolve("{step2.result}", CONTEXT) == CONTEXT["step2"]["result"]
    assert resolve({"to": "{user.email}", "body": "Summary: {step3.result}"}, CONTEXT) == {
        "to": "ada@example.com", "body": "Summary: a summary"}


def test_field_access_indexes_and_methods():
    assert resolve("{step2.result[1].title}", CONTEXT) == "B"
    assert resolve("{step2.result.map('title').join(', ')}", CONTEXT) == "A, B"
    assert resolve("{step1.result[2:4]}", CONTEXT) == [13, 14]
    assert resolve("{step1.result.length}", CONTEXT) == 7
    assert resolve("n={step1.result.length}", CONTEXT) == "n=7"


def test_braces_with_unknown_roots_stay_literal():
    assert resolve("https://api/item/{id}.json", CONTEXT) == "https://api/item/{id}.json"


@pytest.mark.parametrize("template, message", [
    ("{step2.result.nope}", "no field 'nope'"),
    ("{step1.result.__class__}", "no field '__class__'"),
    ("{step1.result.system('ls')}", "unknown method system()"),
    ("{step1.result[99]}", "cannot apply index 99"),
    ("{step1.result.slice(0,}", "expected a number"),
    ("{user.email + 1}", "unexpected"),
])
def test_bad_references_name_the_problem(template, message):
    with pytest.raises(ExpressionError) as error:
        resolve(template, CONTEXT)
    assert message in str(error.value)


def test_nothing_is_evaluated_as_python():
    assert resolve("{__import__('os').system('echo pwned')}", CONTEXT) == "{__import__('os').system('echo pwned')}"


def test_references_lists_every_root():
    assert references({"a": ["{step1.result}", {"b": "x {user.email} {id}"}]}) == {"step1", "user", "id"}
