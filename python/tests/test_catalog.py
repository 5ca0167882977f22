"""The stage catalog guide's examples (shared seed 002) with a catalog in
a temporary folder: secrets kept out of the database file and out of every
output, list/get/alter/drop, read_csv_stage round trip, sessions."""
import os
import stat

import pytest

import spate
from conftest import read_jsonl_dir

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def secret_free(*texts):
    for t in texts:
        assert KEY_ID not in t and SECRET not in t, t


def test_s3_secrets_stay_out_of_catalog_and_output(tmp_path, capfd):
    db = tmp_path / "cat" / "catalog.db"
    client = spate.Client(catalog=db)
    client.connect(database="test")
    created = client.stage.create_s3(
        name="production_s3", bucket="my-bucket", path="data/",
        aws_key_id=KEY_ID, aws_secret_key=SECRET, region="us-east-1",
        comment="Production data bucket")
    client.stage.create_s3(
        name="minio_stage", bucket="my-bucket",
        endpoint="http://localhost:9000", aws_key_id="minioadmin",
        aws_secret_key="minioadmin", comment="Local MinIO instance")
    stages = client.stage.list()
    assert [s.name for s in stages] == ["minio_stage", "production_s3"]
    st = client.stage.get("production_s3")
    assert st.url == "s3://my-bucket/data/" and st.enabled
    assert st.comment == "Production data bucket"
    assert st.created_time.year >= 2024
    cred = st.credentials_file
    assert st.credentials == f"file:{cred}"
    assert stat.S_IMODE(os.stat(cred).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(cred)).st_mode) == 0o700
    assert SECRET in open(cred).read()
    client.stage.alter("production_s3", credentials={
        "AWS_KEY_ID": "new_key_id", "AWS_SECRET_KEY": "new_secret_key"})
    # a new file; the old one, and with it the old secret, is gone
    new_cred = client.stage.get("production_s3").credentials_file
    assert new_cred != cred and not os.path.exists(cred)
    cred = new_cred
    assert "new_secret_key" in open(cred).read()
    assert stat.S_IMODE(os.stat(cred).st_mode) == 0o600
    # a create that fails leaves the stage's credentials as they were
    with pytest.raises(spate.SpateError) as e:
        client.stage.create_s3("production_s3", "other", aws_key_id=KEY_ID,
                               aws_secret_key=SECRET)
    assert client.stage.get("production_s3").credentials_file == cred
    assert "new_secret_key" in open(cred).read()
    assert len(os.listdir(os.path.dirname(cred))) == 2  # and minio's
    # nothing of the secrets in the database or anything printed
    raw = db.read_bytes().decode("latin-1")
    for path in db.parent.glob("catalog.db*"):
        raw += path.read_bytes().decode("latin-1")
    assert "new_secret_key" not in raw and "minioadmin" not in raw
    out, err = capfd.readouterr()
    secret_free(raw, repr(stages), repr(st), repr(created), str(e.value),
                str(vars(st)), out, err)
    client.stage.drop("production_s3")
    assert not os.path.exists(cred)
    client.disconnect()


def test_local_stages_list_get_alter_drop(tmp_path):
    client = spate.Client(catalog=tmp_path / "catalog.db")
    client.stage.create_local(name="local_imports", path=tmp_path / "imp",
                              comment="Local data import directory")
    st = client.stage.get("local_imports")
    assert st.url == f"file://{tmp_path}/imp" and st.kind == "local"
    client.stage.alter("local_imports", enable=False)
    assert client.stage.get("local_imports").enabled is False
    client.stage.alter("local_imports", enable=True, comment="x",
                       url=str(tmp_path / "other"))
    st = client.stage.get("local_imports")
    assert st.enabled and st.comment == "x" and st.path == \
        str(tmp_path / "other")
    with pytest.raises(spate.SpateError, match="local_imports"):
        client.stage.get("local_import")
    client.stage.drop("local_imports")
    assert client.stage.list() == []
    with pytest.raises(spate.SpateError):
        client.stage.drop("old_stage")


def write_csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(",".join(map(str, r)) + "\n" for r in rows))


def test_read_csv_stage_round_trip(tmp_path):
    client = spate.Client()  # default catalog: $SPATE_HOME/catalog.db
    assert client.catalog_path == os.path.join(os.environ["SPATE_HOME"],
                                               "catalog.db")
    write_csv(tmp_path / "imp" / "users.csv",
              [("# exported", "", "", ""), ("id", "name", "email", "age"),
               (1, "ann", "ann@example.com", 31),
               (2, "bob", "bob@example.com", 22)])
    client.stage.create_local("local_imports", tmp_path / "imp")
    st = client.load_data.read_csv_stage(
        "local_imports", "users.csv", table=tmp_path / "users",
        ignore_lines=1, delimiter=",",
        schema=[{"name": "id", "type": "int"},
                {"name": "name", "type": "string"},
                {"name": "email", "type": "string"},
                {"name": "age", "type": "int"}])
    assert st.state == "finished" and st.records_in == 2
    assert read_jsonl_dir(tmp_path / "users") == [
        {"id": 1, "name": "ann", "email": "ann@example.com", "age": 31},
        {"id": 2, "name": "bob", "email": "bob@example.com", "age": 22}]
    # the same file again: already loaded, nothing added
    again = client.load_data.read_csv_stage(
        "local_imports", "users.csv", table=tmp_path / "users",
        ignore_lines=1)
    assert again.records_in == 0
    assert len(read_jsonl_dir(tmp_path / "users")) == 2
    with pytest.raises(spate.SpateError, match="did you mean"):
        client.load_data.read_csv_stage("local_import", "users.csv",
                                        table=tmp_path / "t")


def test_session_commits_all_or_nothing(tmp_path):
    client = spate.Client(catalog=tmp_path / "catalog.db")
    write_csv(tmp_path / "d" / "users.csv", [("id", "name"), (1, "ann")])
    write_csv(tmp_path / "d" / "orders.csv",
              [("id", "user_id", "amount"), (7, 1, 9.5), (8, 1, 3)])
    with client.session() as session:
        session.stage.create_local("import_stage", tmp_path / "d")
        session.load_data.read_csv_stage("import_stage", "users.csv",
                                         table=tmp_path / "users")
        session.load_data.read_csv_stage("import_stage", "orders.csv",
                                         table=tmp_path / "orders")
        assert not (tmp_path / "users").exists()  # nothing before the end
    assert session.status.records_in == 3
    # without a schema CSV values stay text
    assert read_jsonl_dir(tmp_path / "users") == [{"id": "1", "name": "ann"}]
    assert read_jsonl_dir(tmp_path / "orders") == [
        {"id": "7", "user_id": "1", "amount": "9.5"},
        {"id": "8", "user_id": "1", "amount": "3"}]

    # one load fails: neither table is published, the new stage is gone
    with pytest.raises(spate.SpateError, match="missing.csv"):
        with client.session() as session:
            session.stage.create_local("daily_import", tmp_path / "d")
            session.load_data.read_csv_stage("daily_import", "users.csv",
                                             table=tmp_path / "u2")
            session.load_data.read_csv_stage("daily_import", "missing.csv",
                                             table=tmp_path / "o2")
    assert not (tmp_path / "u2").exists() and not (tmp_path / "o2").exists()
    assert [s.name for s in client.stage.list()] == ["import_stage"]


def test_same_file_into_other_targets_loads_again(tmp_path):
    """The load history skips a file loaded before into the same target
    only: a table of the same name elsewhere, or another session's set of
    tables, gets it."""
    write_csv(tmp_path / "d" / "users.csv", [("id", "name"), (1, "ann")])
    client = spate.Client(catalog=tmp_path / "catalog.db")
    client.stage.create_local("d", tmp_path / "d")
    for target, records in (("t1/users", 1), ("t2/users", 1),
                            ("t1/users", 0)):
        st = client.load_data.read_csv_stage("d", "users.csv",
                                             table=tmp_path / target)
        assert st.records_in == records, target
    for pair, records in ((("s1/a", "s1/b"), 2), (("s2/a", "s2/b"), 2),
                          (("s1/a", "s1/b"), 0)):
        with client.session() as s:
            for t in pair:
                s.load_data.read_csv_stage("d", "users.csv",
                                           table=tmp_path / t)
        assert s.status.records_in == records, pair
    for t in ("t1/users", "t2/users", "s1/a", "s1/b", "s2/a", "s2/b"):
        assert read_jsonl_dir(tmp_path / t) == [{"id": "1", "name": "ann"}]
