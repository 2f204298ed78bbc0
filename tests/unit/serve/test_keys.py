from __future__ import annotations

import json
import stat

from tuneforge.cli.main import main
from tuneforge.serve.keys import KeyStore


def test_create_and_lookup(tmp_path):
    store = KeyStore(tmp_path)
    key = store.create("acme")
    assert key.startswith("tf-") and len(key) > 40
    assert store.org_of(key) == "acme"
    assert store.org_of(key + "x") is None
    assert store.org_of("") is None
    other = store.create("admin")
    assert store.org_of(other) == "admin" and len(store) == 2


def test_file_holds_hashes_only_and_is_private(tmp_path):
    store = KeyStore(tmp_path)
    key = store.create("acme")
    raw = (tmp_path / "keys.json").read_text()
    assert key not in raw
    (entry,) = json.loads(raw)["keys"]
    assert set(entry) == {"id", "sha256", "org", "created"}
    assert key.startswith(entry["id"])
    assert stat.S_IMODE((tmp_path / "keys.json").stat().st_mode) == 0o600
    assert not list(tmp_path.glob("*.tmp"))


def test_cli_keys_create_prints_key_last(tmp_path, capsys):
    assert main(["keys", "create", "--org", "admin", "--data-dir", str(tmp_path)]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert KeyStore(tmp_path).org_of(key) == "admin"


def test_cli_serve_is_registered(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    assert "--no-auth" in out and "--max-loaded-adapters" in out
