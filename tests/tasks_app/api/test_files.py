"""/api/files: upload, list, describe, download and delete a user's files; nobody else's."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tasks_app import uploads
from tasks_app.agent_data import Upload

pytestmark = pytest.mark.django_db

LEADS = "Name;Email\r\nJosé;jose@example.com\r\n".encode("cp1252")


def upload(api, content: bytes = LEADS, name: str = "leads.csv", kind: str = "text/csv"):
    return api.post("/api/files", {"file": SimpleUploadedFile(name, content, content_type=kind)}, format="multipart")


def test_an_upload_is_stored_for_its_owner_and_described(api, user):
    response = upload(api)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "name", "size", "contentType", "createdAt"}
    assert (body["name"], body["size"], body["contentType"]) == ("leads.csv", len(LEADS), "text/csv")
    stored = Upload.objects.get(id=body["id"])
    assert stored.owner == user and uploads.read(stored) == LEADS
    assert api.get(f"/api/files/{body['id']}").json() == body


def test_download_streams_the_same_bytes_as_an_attachment(api):
    file_id = upload(api).json()["id"]
    response = api.get(f"/api/files/{file_id}/download")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == LEADS
    assert response["Content-Disposition"] == 'attachment; filename="leads.csv"'
    assert response["Content-Type"] == "text/csv"


def test_the_list_is_newest_first_paginated_and_filtered_by_name(api):
    first, second = upload(api).json(), upload(api).json()
    upload(api, b"[]", "other.json", "application/json")
    listed = api.get("/api/files", {"name": "leads"}).json()
    assert listed["count"] == 2 and [f["id"] for f in listed["results"]] == [second["id"], first["id"]]
    page = api.get("/api/files", {"pageSize": 1, "page": 2}).json()
    assert page["count"] == 3 and len(page["results"]) == 1 and page["previous"]


def test_delete_removes_the_row_and_the_bytes(api):
    file_id = upload(api).json()["id"]
    path = Upload.objects.get(id=file_id).file.path
    assert api.delete(f"/api/files/{file_id}").status_code == 204
    assert not Upload.objects.filter(id=file_id).exists()
    import os

    assert not os.path.exists(path)
    assert api.get(f"/api/files/{file_id}").status_code == 404


def test_over_the_size_limit_is_refused_clearly_and_nothing_is_stored(api, settings):
    settings.AGENT_UPLOAD_MAX_BYTES = 10
    response = upload(api)
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "too_large" and "the limit is 10 bytes (AGENT_UPLOAD_MAX_BYTES)" in error["message"]
    assert not Upload.objects.exists()


def test_a_body_without_the_file_field_is_a_400_naming_it(api):
    response = api.post("/api/files", {"other": "x"}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]


def test_another_users_files_are_not_found_and_not_listed(api, intruder_api):
    file_id = upload(api).json()["id"]
    for method, path in [("get", f"/api/files/{file_id}"), ("get", f"/api/files/{file_id}/download"),
                         ("delete", f"/api/files/{file_id}")]:
        assert getattr(intruder_api, method)(path).status_code == 404
    assert intruder_api.get("/api/files").json()["count"] == 0
    assert Upload.objects.filter(id=file_id).exists()
