"""POST/GET /v1/files, GET/DELETE /v1/files/{id} and GET /v1/files/{id}/content, checked
against OpenAI's Files API: its objects, its status codes, its error objects."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.unit.jobs.api_app import FILES, TRAIN_LINE, JobsApp, open_app
from tests.unit.serve.conftest import assert_error
from tuneforge.serve.settings import ServeSettings

LIMIT = 1000  # max_upload_bytes: small, so a test can cross it cheaply


@pytest.fixture
def app(tmp_path) -> Iterator[JobsApp]:
    with open_app(tmp_path, max_upload_bytes=LIMIT) as opened:
        yield opened


@pytest.fixture
def file(app) -> dict:
    """acme's uploaded training file, as the upload returned it."""
    response = app.upload()
    assert response.status_code == 200, response.text
    return response.json()


def blob_names(app: JobsApp) -> set[str]:
    folder = app.settings.blobs_dir
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def test_upload_returns_openai_file_object(app):
    before = int(time.time())
    response = app.upload(filename="train.jsonl")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"].startswith("file-")
    assert body["object"] == "file"
    assert body["bytes"] == len(TRAIN_LINE)
    assert body["filename"] == "train.jsonl"
    assert body["purpose"] == "fine-tune"
    assert body["status"] == "processed"
    assert before <= body["created_at"] <= int(time.time())


def test_retrieve_returns_the_uploaded_object(app, file):
    response = app.client.get(f"{FILES}/{file['id']}")
    assert response.status_code == 200, response.text
    assert response.json() == file


def test_content_returns_the_exact_bytes(app):
    content = b'{"a": "\xc3\xa9t\xc3\xa9"}\r\n\x00\xff{"b": 2}'  # CRLF, NUL, invalid UTF-8
    file_id = app.upload(content=content).json()["id"]
    response = app.client.get(f"{FILES}/{file_id}/content")
    assert response.status_code == 200
    assert response.content == content


def test_delete_returns_deleted_object_then_404(app, file):
    response = app.client.delete(f"{FILES}/{file['id']}")
    assert response.status_code == 200, response.text
    assert response.json() == {"id": file["id"], "object": "file", "deleted": True}
    for method in ("get", "delete"):
        gone = app.client.request(method, f"{FILES}/{file['id']}")
        assert_error(gone, 404, "file_id", "file_not_found")
    assert_error(app.client.get(f"{FILES}/{file['id']}/content"), 404, "file_id")
    assert blob_names(app) == set()


def test_list_is_newest_first_with_cursor_fields(app):
    ids = [app.file_id() for _ in range(3)]
    body = app.client.get(FILES).json()
    assert body["object"] == "list"
    assert [f["id"] for f in body["data"]] == ids[::-1]
    assert (body["first_id"], body["last_id"], body["has_more"]) == (ids[2], ids[0], False)


def test_list_pages_with_limit_and_after(app):
    ids = [app.file_id() for _ in range(3)]
    first = app.client.get(FILES, params={"limit": 2}).json()
    assert [f["id"] for f in first["data"]] == [ids[2], ids[1]]
    assert first["has_more"] is True
    rest = app.client.get(FILES, params={"limit": 2, "after": first["last_id"]}).json()
    assert [f["id"] for f in rest["data"]] == [ids[0]]
    assert rest["has_more"] is False


def test_list_in_ascending_order_pages_forward(app):
    ids = [app.file_id() for _ in range(3)]
    first = app.client.get(FILES, params={"order": "asc", "limit": 1}).json()
    assert [f["id"] for f in first["data"]] == [ids[0]] and first["has_more"] is True
    params = {"order": "asc", "after": ids[0]}
    rest = app.client.get(FILES, params=params).json()
    assert [f["id"] for f in rest["data"]] == ids[1:]


def test_list_filters_on_purpose(app, file):
    listed = app.client.get(FILES, params={"purpose": "fine-tune"}).json()["data"]
    assert [f["id"] for f in listed] == [file["id"]]
    empty = app.client.get(FILES, params={"purpose": "batch"}).json()
    assert empty["data"] == [] and empty["first_id"] is None and empty["last_id"] is None


@pytest.mark.parametrize("params, param", [({"limit": 0}, "limit"), ({"order": "up"}, "order")])
def test_list_refuses_bad_query_values(app, params, param):
    assert_error(app.client.get(FILES, params=params), 400, param)


def test_batch_purpose_is_refused_with_a_reason(app):
    error = assert_error(app.upload(purpose="batch"), 400, "purpose", "invalid_purpose")
    assert "fine-tune" in error["message"]


def test_unknown_purpose_is_refused(app):
    error = assert_error(app.upload(purpose="fine_tune"), 400, "purpose")
    assert "'fine-tune'" in error["message"]


def test_empty_file_is_refused_and_leaves_no_blob(app):
    assert_error(app.upload(content=b""), 400, "file", "empty_file")
    assert blob_names(app) == set()


def test_file_of_exactly_the_limit_is_accepted(app):
    response = app.upload(content=b"x" * LIMIT)
    assert response.status_code == 200, response.text
    assert response.json()["bytes"] == LIMIT


# LIMIT + 1 is refused while streaming to disk; 200 kB by its Content-Length.
@pytest.mark.parametrize("size", [LIMIT + 1, 200_000])
def test_file_over_the_limit_is_413_and_leaves_nothing_on_disk(app, size):
    assert_error(app.upload(content=b"x" * size), 413, "file", "file_too_large")
    assert blob_names(app) == set()  # neither a blob nor a .partial file
    assert app.client.get(FILES).json()["data"] == []


def test_upload_above_the_json_body_limit_is_accepted_under_max_upload_bytes(tmp_path):
    size = ServeSettings().max_body_bytes + 1
    with open_app(tmp_path) as app:  # the defaults `tuneforge serve` runs with
        response = app.upload(content=b"x" * size)
    assert response.status_code == 200, response.text
    assert response.json()["bytes"] == size


def test_missing_file_field_is_400(app):
    response = app.client.post(FILES, data={"purpose": "fine-tune"})
    assert_error(response, 400, "file")


def test_missing_purpose_field_is_400(app):
    response = app.client.post(FILES, files={"file": ("train.jsonl", TRAIN_LINE)})
    assert_error(response, 400, "purpose")


def test_other_org_gets_404_for_retrieve_content_and_delete(app, file):
    for method, path in (
        ("get", f"{FILES}/{file['id']}"),
        ("get", f"{FILES}/{file['id']}/content"),
        ("delete", f"{FILES}/{file['id']}"),
    ):
        response = app.client.request(method, path, headers=app.as_globex)
        assert_error(response, 404, "file_id", "file_not_found")
    assert app.client.get(f"{FILES}/{file['id']}").status_code == 200  # still acme's


def test_other_org_does_not_see_the_file_in_its_list(app, file):
    theirs = app.client.get(FILES, headers=app.as_globex).json()
    assert theirs["data"] == [] and theirs["has_more"] is False
    paged = app.client.get(FILES, params={"after": file["id"]}, headers=app.as_globex).json()
    assert paged["data"] == []


def test_each_org_lists_only_its_own_files(app, file):
    theirs = app.file_id(headers=app.as_globex)
    assert [f["id"] for f in app.client.get(FILES).json()["data"]] == [file["id"]]
    listed = app.client.get(FILES, headers=app.as_globex).json()["data"]
    assert [f["id"] for f in listed] == [theirs]


def test_every_route_without_authorization_header_is_401(app, file):
    anonymous = TestClient(app.client.app)  # the same app, no default headers
    path = f"{FILES}/{file['id']}"
    routes = [("post", FILES), ("get", FILES), ("get", path), ("delete", path),
              ("get", f"{path}/content")]  # fmt: skip
    for method, route in routes:
        assert_error(anonymous.request(method, route), 401, None, "invalid_api_key")
    assert app.client.get(path).status_code == 200  # the refused delete deleted nothing
