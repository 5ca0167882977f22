"""Shared fixtures: each test gets its own SPATE_HOME (so the default
stage catalog lives in a temporary folder) and helpers to read outputs."""
import glob
import json
import os

import pytest


@pytest.fixture(autouse=True)
def spate_home(tmp_path, monkeypatch):
    home = tmp_path / "spate-home"
    monkeypatch.setenv("SPATE_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    return home


def read_jsonl_dir(path):
    """Every record of the .jsonl files of a file_writer directory."""
    out = []
    for f in sorted(glob.glob(os.path.join(path, "*.jsonl"))):
        with open(f) as fh:
            out.extend(json.loads(line) for line in fh if line.strip())
    return out


EXPENSES = [
    {"id": 1, "user": "ann", "expense": 12000},
    {"id": 2, "user": "bob", "expense": -15000.5},
    {"id": 3, "user": "cid", "expense": 10},
    {"id": 4, "user": "dan", "expense": 10000, "tags": ["a", "b"]},
    {"id": 5, "user": "eve", "expense": -10000, "ok": True, "x": None},
    {"id": 6, "user": "fay \"q\" é", "expense": 99999,
     "meta": {"k": [1, 2]}},
]


def expenses_text():
    return "".join(json.dumps(r) + "\n" for r in EXPENSES)


@pytest.fixture
def s3():
    """A fresh s3rver with the buckets 'lake' and 'other' (skipped when
    s3rver is not installed; scripts/deps installs it)."""
    from s3server import S3rver
    srv = S3rver(["lake", "other"])
    yield srv
    srv.stop()


@pytest.fixture
def pg():
    """A throwaway PostgreSQL server (skipped when not installed)."""
    from dbserver import Postgres
    srv = Postgres()
    yield srv
    srv.stop()
