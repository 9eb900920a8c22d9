"""The OpenAPI schema agrees with the views: it validates, covers every route, and fuzzing finds no 5xx
and no answer the schema does not declare (status code, content type, body shape)."""
from __future__ import annotations

import json
import re

import pytest
import schemathesis
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from agents.dispatch import INLINE
from tasks_app.api import urls as api_urls
from tasks_app.models import Project, Task

NOT_DOCUMENTED = {"schema/", "docs/"}  # the schema and its UI document the others
# every answer must be one the schema declares: its status code, its content type and its body
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def route_to_openapi(route: str) -> str:
    return "/api/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


@pytest.fixture
def schema_json(tmp_path) -> dict:
    out = tmp_path / "schema.json"
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(out))
    return json.loads(out.read_text())


def test_schema_validates_and_documents_every_api_route(schema_json):
    routes = {route_to_openapi(str(p.pattern)) for p in api_urls.urlpatterns
              if str(p.pattern) not in NOT_DOCUMENTED}
    assert routes - set(schema_json["paths"]) == set()
    assert set(schema_json["paths"]) - routes == {"/api/schema/"}


def test_every_operation_documents_its_errors_in_the_one_format(schema_json):
    assert set(schema_json["components"]["schemas"]["Error"]["properties"]) == {"error"}
    for path, operations in schema_json["paths"].items():
        for method, operation in operations.items():
            if path == "/api/schema/":
                continue
            errors = {code for code in operation["responses"] if code.startswith("4")}
            assert errors, f"{method} {path} documents no error"
            for code in errors:
                ref = operation["responses"][code]["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", (method, path, code)


def test_a_body_of_another_content_type_is_the_415_the_schema_declares(api, schema_json):
    answer = api.post("/api/workspace/tasks", data="title=x", content_type="text/plain")
    assert answer.status_code == 415 and answer.json()["error"]["code"] == "unsupported_media_type"
    declared = schema_json["paths"]["/api/workspace/tasks"]["post"]["responses"]["415"]
    assert declared["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Error"


def test_schema_and_swagger_ui_are_served(client):
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger-ui" in docs.content


@pytest.fixture
def fuzz_setup(settings, transactional_db, user):
    settings.EMBEDDED = True  # a real id may get executed: the in-process runner runs it
    settings.AGENT_RATE_CREATE = settings.AGENT_RATE_EXECUTE = "100000/min"
    settings.AGENT_SYNC_WAIT_S = 0.2
    project = Project.objects.create(user=user, name="fuzz")
    task = Task.objects.create(user=user, title="fuzz", project=project,
                               plan={"steps": [{"action": "ai.summarize", "params": {"items": ["a", "b"]}}]})
    yield {"token": Token.objects.create(user=user).key, "task": task.id, "project": project.id}
    assert INLINE.wait_idle(timeout=30)


@pytest.mark.slow
def test_fuzzing_the_live_schema_finds_no_server_error_and_only_declared_answers(fuzz_setup):
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    headers = {"Authorization": f"Token {fuzz_setup['token']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    # DELETE /api/auth/token revokes the fuzzer's own token: fuzz it last, so the rest run authenticated
    operations.sort(key=lambda op: (op.path, op.method.upper()) == ("/api/auth/token", "DELETE"))
    for operation in operations:
        if operation.path == "/api/schema/":
            continue
        real_ids = {name: fuzz_setup["task"] if name == "task_id" or "tasks" in operation.path
                    else fuzz_setup["project"] for name in ("task_id", "id") if "{" + name + "}" in operation.path}
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            for path_parameters in (None, real_ids or None):
                _fuzz(operation, mode, path_parameters, headers)


def _fuzz(operation, mode, path_parameters, headers):
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @given(case=strategy)
    @hypothesis_settings(max_examples=8, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck))
    def run(case):
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:  # nothing negative to say (no body, no query, path fixed): positive ran
        assert mode == schemathesis.GenerationMode.NEGATIVE
