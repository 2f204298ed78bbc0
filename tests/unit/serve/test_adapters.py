from __future__ import annotations

from tests.unit.serve.conftest import MODEL, assert_error


def test_admin_loads_and_unloads(client, admin_key, tmp_path):
    admin = {"Authorization": f"Bearer {admin_key}"}
    response = client.post(
        "/v1/adapters", headers=admin, json={"lora_name": "mine", "lora_path": str(tmp_path)}
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == "mine" and response.json()["root"] == MODEL
    assert "mine" in [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert client.delete("/v1/adapters/mine", headers=admin).json()["deleted"] is True
    assert_error(client.delete("/v1/adapters/mine", headers=admin), 404, "model", "model_not_found")


def test_non_admin_is_403(client, tmp_path):
    body = {"lora_name": "mine", "lora_path": str(tmp_path)}
    assert_error(client.post("/v1/adapters", json=body), 403, None, "insufficient_permissions")
    assert_error(client.delete("/v1/adapters/x"), 403, None, "insufficient_permissions")


def test_bad_adapter_requests(client, admin_key, tmp_path):
    admin = {"Authorization": f"Bearer {admin_key}"}
    bad = {"lora_name": "a/b", "lora_path": str(tmp_path)}
    assert_error(client.post("/v1/adapters", headers=admin, json=bad), 400, "lora_name")
    missing = {"lora_name": "x", "lora_path": str(tmp_path / "nope")}
    assert_error(client.post("/v1/adapters", headers=admin, json=missing), 400, "lora_path")
    assert_error(
        client.post("/v1/adapters", headers=admin, json={"lora_name": "x"}), 400, "lora_path"
    )
