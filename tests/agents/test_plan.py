"""Plans: the seed's format is accepted as written; every bad reference is named."""
import pytest

from agents.plan import PlanError, check_plan, parse_plan

from .helpers import seed_hn_plan

SEED_HN_PLAN = seed_hn_plan("https://hacker-news.firebaseio.com/v0")


def test_the_seed_plan_validates_as_written():
    plan = parse_plan(SEED_HN_PLAN)
    assert plan.step_ids() == ["step1", "step2", "step3", "step4"]
    assert [s.tool for s in plan.steps] == ["http", "http", "ai", "email"]
    assert plan.estimated_credits == 500 and plan.estimated_duration == 30000


def test_credits_are_estimated_from_the_tools_when_missing():
    plan = parse_plan({"steps": SEED_HN_PLAN["steps"][:1]})
    assert plan.estimated_credits == 5


@pytest.mark.parametrize("steps, message", [
    ([{"action": "http.get", "params": {"url": "{step2.result}"}}], "step 1 (http.get): refers to 'step2'"),
    ([{"action": "fax.send"}], "unknown tool 'fax'"),
    ([{"action": "http.teleport"}], "tool 'http' has no action 'teleport'"),
    ([{"action": "get", "tool": "http", "params": {}}, {"action": "http.get", "dependsOn": ["later"]},
      {"id": "later", "action": "http.get"}], "refers to 'later', which is not an earlier step"),
    ([{"action": "http.get", "tool": "email"}], "tool 'email' does not match action 'http.get'"),
    ([], "steps"),
    ([{"action": "http.get", "colour": "red"}], "colour: Extra inputs are not permitted"),
])
def test_invalid_plans_name_the_problem(steps, message):
    with pytest.raises(PlanError) as error:
        parse_plan({"steps": steps})
    assert message in str(error.value)


def test_named_steps_can_be_referred_to_by_id():
    plan = parse_plan({"steps": [{"id": "top", "action": "http.get", "params": {"url": "https://x.test/"}},
                                 {"action": "ai.summarize", "params": {"items": "{top.result}"}}]})
    assert plan.step_ids() == ["top", "step2"]


def test_check_plan_names_every_problem_at_once():
    plan, problems = check_plan({"steps": [
        {"action": "fax.send"},
        {"id": "a", "action": "http.get", "dependsOn": ["b"], "params": {"url": "https://x.test/"}},
        {"id": "b", "action": "http.get", "dependsOn": ["a"], "params": {"url": "https://x.test/"}},
    ]})
    assert plan is not None
    assert len(problems) == 3 and problems[0].startswith("step 1 (fax.send): unknown tool 'fax'; known tools: ai,")
    assert problems[1:] == ["step 2 (http.get): refers to 'b', which is not an earlier step",
                            "dependency cycle: a -> b -> a"]


def test_literal_params_are_checked_against_the_tools_schema_references_are_not():
    data = {"steps": [{"action": "http.get", "params": {"url": "https://x.test/", "timeoutS": "soon"}},
                      {"action": "http.getBatch", "params": {"ids": "{step1.result.slice(0,2)}", "colour": 1}}]}
    _, problems = check_plan(data, literal_from=1)
    assert "step 1 (http.get): params.timeoutS: Input should be a valid number, unable to parse string as a " \
           "number (the input of http.get)" in problems
    assert any(p.startswith("step 2 (http.getBatch): params.colour: Extra inputs are not permitted") for p in problems)
    assert not any("params.ids" in p for p in problems), "a reference is known only when the step runs"
    assert check_plan(data)[1] == [], "a person's explicit plan is checked when its steps run"


def test_a_bad_shape_is_reported_with_where_it_is():
    plan, problems = check_plan({"steps": [{"action": "http.get", "colour": "red"}], "estimatedDuration": -1})
    assert plan is None
    assert "steps.0.colour: Extra inputs are not permitted" in problems
    assert any(p.startswith("estimatedDuration:") for p in problems)


@pytest.mark.django_db
def test_a_plan_version_recorded_again_is_overwritten_not_duplicated():
    """A planning wake-up redone after a crash writes the version it had begun again: one row, the last plan."""
    from django.contrib.auth import get_user_model

    from agents import plan_record
    from tasks_app.models import PlanVersion, Task

    user = get_user_model().objects.create_user(username="planner-rerun")
    task = Task.objects.create(user=user, title="rerun", attempts=1)
    for reason in ("first try", "second try"):
        plan_record.record(task, version=1, kind="initial", source="user", at_step=0, reason=reason,
                           plan={"steps": [{"action": "http.get", "params": {"url": "https://example.com"}}]},
                           tokens=3, credits=1)
    (row,) = PlanVersion.objects.filter(task=task)
    assert (row.run, row.version, row.reason, row.tokens) == (1, 1, "second try", 3)
