"""drive against the local fake Google (real google-auth and requests over loopback)."""
from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest

from tools.base import SideEffect
from tools.drive import tool
from tools.errors import ToolError, ToolInputError

EVERY_BYTE = bytes(range(256)) + b"\r\n--boundary-lookalike--\r\n" + bytes(range(255, -1, -1))


def run(qualified_name, params, context):
    tool_name, _, action = qualified_name.partition(".")
    assert tool_name == "drive"
    return tool.actions[action].run(params, context)


@pytest.fixture
def context(tool_context, google_server, tmp_path):
    tool_context.credentials = {"google": google_server.credentials()}
    tool_context.artifacts_dir = tmp_path / "artifacts"
    tool_context.artifacts_dir.mkdir()
    return tool_context


def test_upload_then_download_round_trips_the_bytes(google_server, context):
    uploaded = run("drive.upload", {"name": "blob.bin", "contentBase64": base64.b64encode(EVERY_BYTE).decode(),
                                    "description": "test data"}, context)
    file_id = uploaded["file"]["id"]
    assert google_server.contents[file_id] == EVERY_BYTE
    assert google_server.files[file_id]["name"] == "blob.bin"
    assert google_server.files[file_id]["mimeType"] == "application/octet-stream"

    downloaded = run("drive.download", {"fileId": file_id}, context)
    path = Path(downloaded["path"])
    assert path.read_bytes() == EVERY_BYTE and downloaded["size"] == len(EVERY_BYTE)
    assert path.name == "blob.bin"
    assert path.is_relative_to(context.artifacts_dir / context.task_id)
    assert [p.name for p in path.parent.iterdir()] == ["blob.bin"]  # no partial file left behind


def test_upload_from_text_and_from_an_artifact(google_server, context):
    text = run("drive.upload", {"name": "notes.txt", "text": "héllo\nwörld"}, context)
    assert google_server.contents[text["file"]["id"]] == "héllo\nwörld".encode()
    assert google_server.files[text["file"]["id"]]["mimeType"] == "text/plain"

    (context.artifacts_dir / "chart.png").write_bytes(b"\x89PNG fake")
    context.idempotency_key = "task:t-test:run:1:step:2"
    chart = run("drive.upload", {"name": "chart.png", "path": "chart.png", "parents": ["folder123"]}, context)
    assert google_server.contents[chart["file"]["id"]] == b"\x89PNG fake"
    assert google_server.files[chart["file"]["id"]]["parents"] == ["folder123"]


def test_upload_refuses_files_outside_the_artifacts_directory(google_server, context, tmp_path):
    (tmp_path / "private.key").write_text("secret")
    for path in (str(tmp_path / "private.key"), "../private.key", "/etc/hostname"):
        with pytest.raises(ToolInputError, match="outside the task's artifacts directory"):
            run("drive.upload", {"name": "x", "path": path}, context)
    assert google_server.files == {}


def test_a_retried_upload_finds_the_first_file(google_server, context):
    first = run("drive.upload", {"name": "a.txt", "text": "one"}, context)
    again = run("drive.upload", {"name": "a.txt", "text": "one"}, context)
    assert again["file"]["id"] == first["file"]["id"] and len(google_server.files) == 1


def test_the_upload_compensation_deletes_the_file(google_server, context):
    result = run("drive.upload", {"name": "draft.txt", "text": "draft"}, context)
    assert result["compensation"] == {"action": "drive.delete", "params": {"fileId": result["file"]["id"]}}
    assert run(result["compensation"]["action"], result["compensation"]["params"], context)["deleted"] is True
    assert google_server.files == {}
    with pytest.raises(ToolError, match="may be deleted already"):
        run("drive.delete", result["compensation"]["params"], context)


def test_list_finds_files_by_query(google_server, context):
    google_server.add_file("Q1 report.pdf", b"1", "application/pdf")
    google_server.add_file("holiday.jpg", b"2", "image/jpeg")
    assert {f["name"] for f in run("drive.list", {}, context)["files"]} == {"Q1 report.pdf", "holiday.jpg"}
    found = run("drive.list", {"q": "name contains 'report' and trashed = false", "pageSize": 10}, context)
    assert [f["name"] for f in found["files"]] == ["Q1 report.pdf"]
    with pytest.raises(ToolError, match="Invalid Value"):
        run("drive.list", {"q": "fullText contains 'x'"}, context)


def test_downloads_over_the_cap_are_refused_and_leave_nothing(google_server, context, settings):
    settings.GOOGLE_DRIVE_MAX_BYTES = 100
    big = google_server.add_file("big.bin", b"x" * 101)
    with pytest.raises(ToolError, match="larger than the 100-byte download limit"):
        run("drive.download", {"fileId": big}, context)
    liar = google_server.add_file("liar.bin", b"y" * 500)
    google_server.files[liar]["size"] = "10"  # metadata understates: the stream cap still holds
    with pytest.raises(ToolError, match="larger than 100 bytes"):
        run("drive.download", {"fileId": liar}, context)
    assert [p for p in context.artifacts_dir.rglob("*") if p.is_file()] == []


def test_unknown_file_and_google_docs_files_are_clear_errors(google_server, context):
    with pytest.raises(ToolError, match="no file 'missing'"):
        run("drive.download", {"fileId": "missing"}, context)
    doc = google_server.add_file("Plan", b"", "application/vnd.google-apps.document")
    with pytest.raises(ToolError, match="Google Docs editors file"):
        run("drive.download", {"fileId": doc}, context)


def test_side_effects_and_costs_are_declared():
    actions = tool.actions
    assert (actions["list"].side_effect, actions["download"].side_effect) == (SideEffect.READ, SideEffect.READ)
    assert (actions["upload"].side_effect, actions["delete"].side_effect) == (SideEffect.WRITE, SideEffect.WRITE)
    assert all(10 <= a.credits <= 20 for a in actions.values())


def test_an_expired_token_is_refreshed_and_handed_back(google_server, tool_context, tmp_path):
    tool_context.artifacts_dir = tmp_path
    creds = google_server.credentials(expired=True)
    tool_context.credentials = {"google": dict(creds)}
    uploaded = run("drive.upload", {"name": "a.txt", "text": "a"}, tool_context)
    assert uploaded["file"]["id"] in google_server.files
    assert len(google_server.token_grants) == 1
    new_token = tool_context.credentials["google"]["token"]
    assert new_token != creds["token"] and {r.bearer for r in google_server.api_requests()} == {new_token}


def test_revoked_access_asks_to_reconnect_and_no_secret_leaks(google_server, context, caplog):
    creds = dict(context.credentials["google"])
    file_id = google_server.add_file("a.txt", b"a")
    outputs = [run("drive.list", {}, context), run("drive.download", {"fileId": file_id}, context)]
    google_server.revoke(creds["token"], creds["refresh_token"])
    errors = []
    with caplog.at_level(logging.DEBUG):
        for name, params in (("drive.list", {}), ("drive.upload", {"name": "b", "text": "b"}),
                             ("drive.download", {"fileId": file_id}), ("drive.delete", {"fileId": file_id})):
            with pytest.raises(ToolError, match="the Google account must be reconnected") as error:
                run(name, params, context)
            errors.append(str(error.value))
    assert file_id in google_server.files
    seen = json.dumps(outputs) + " ".join(errors) + caplog.text
    for secret in (creds["token"], creds["refresh_token"], creds["client_secret"]):
        assert secret not in seen


def test_without_a_google_account_the_error_says_to_connect_one(tool_context):
    with pytest.raises(ToolError, match="drive needs a connected Google account"):
        run("drive.list", {}, tool_context)
