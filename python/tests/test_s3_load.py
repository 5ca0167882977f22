"""client.load_data.read_csv_stage from an S3 catalog stage (the seed's
create_s3 + read_csv_stage) against a real S3-compatible server (s3rver
on loopback): every record read back, a glob over keys, the load history
keyed on ETags, a missing key's error, and a session loading from S3 and
a local stage together."""
import pytest

import spate
from conftest import read_jsonl_dir

# s3rver checks the key id only; this secret reaches no output
SECRET = "planted-S3-secret-7f3a9c"

USERS = ("# exported by the shop\n"
         "id,name,email,age\n"
         "1,ann,ann@example.com,31\n"
         "2,\"bob, jr\",\"bob@example.com\",22\n"
         "3,\"cid \"\"the kid\"\"\nsecond line\",cid@example.com,7\n")
USER_RECORDS = [
    {"id": 1, "name": "ann", "email": "ann@example.com", "age": 31},
    {"id": 2, "name": "bob, jr", "email": "bob@example.com", "age": 22},
    {"id": 3, "name": "cid \"the kid\"\nsecond line",
     "email": "cid@example.com", "age": 7},
]
USER_SCHEMA = [{"name": "id", "type": "int"},
               {"name": "name", "type": "string"},
               {"name": "email", "type": "string"},
               {"name": "age", "type": "int"}]


def orders(month, n):
    rows = [(month * 10000 + i, i % 3 + 1, f"{i * 1.25:.2f}")
            for i in range(n)]
    text = "id;user_id;amount\n" + "".join(f"{a};{b};{c}\n"
                                           for a, b, c in rows)
    recs = [{"id": a, "user_id": b, "amount": float(c)} for a, b, c in rows]
    return text, recs


ORDER_SCHEMA = [{"name": "id", "type": "int"},
                {"name": "user_id", "type": "int"},
                {"name": "amount", "type": "double"}]


def s3_stage(client, s3, name="production_s3"):
    return client.stage.create_s3(
        name=name, bucket="lake", path="raw/", aws_key_id="S3RVER",
        aws_secret_key=SECRET, region="us-east-1", endpoint=s3.endpoint,
        comment="s3rver on loopback")


def test_read_csv_stage_from_s3(tmp_path, s3, capfd):
    s3.put("lake", "raw/users.csv", USERS)
    jan, jan_recs = orders(1, 500)
    feb, feb_recs = orders(2, 1500)
    s3.put("lake", "raw/orders/2024-01.csv", jan)
    s3.put("lake", "raw/orders/2024-02.csv", feb)
    s3.put("lake", "raw/orders/notes.txt", "not csv\n")
    s3.put("lake", "elsewhere/users.csv", "id\n99\n")
    client = spate.Client(catalog=tmp_path / "catalog.db")
    st = s3_stage(client, s3)
    assert st.url == "s3://lake/raw/" and st.endpoint == s3.endpoint

    status = client.load_data.read_csv_stage(
        "production_s3", "users.csv", table=tmp_path / "users",
        ignore_lines=1, delimiter=",", schema=USER_SCHEMA)
    assert status.state == "finished"
    assert status.records_in == 3 and status.errors == 0
    assert read_jsonl_dir(tmp_path / "users") == USER_RECORDS

    # a glob over keys under the stage's prefix, another delimiter
    status = client.load_data.read_csv_stage(
        "production_s3", "orders/*.csv", table=tmp_path / "orders",
        delimiter=";", schema=ORDER_SCHEMA)
    assert status.records_in == 2000 and status.errors == 0
    assert sorted(read_jsonl_dir(tmp_path / "orders"),
                  key=lambda r: r["id"]) == jan_recs + feb_recs

    # loaded before (the same ETags): nothing read, nothing added
    again = client.load_data.read_csv_stage(
        "production_s3", "orders/*.csv", table=tmp_path / "orders",
        delimiter=";", schema=ORDER_SCHEMA)
    assert again.records_in == 0
    assert len(read_jsonl_dir(tmp_path / "orders")) == 2000

    # a changed object is loaded again, alone
    mar, mar_recs = orders(3, 10)
    s3.put("lake", "raw/orders/2024-01.csv", mar)
    third = client.load_data.read_csv_stage(
        "production_s3", "orders/*.csv", table=tmp_path / "orders",
        delimiter=";", schema=ORDER_SCHEMA)
    assert third.records_in == 10
    assert sorted(read_jsonl_dir(tmp_path / "orders"),
                  key=lambda r: r["id"]) == jan_recs + feb_recs + mar_recs

    # a key that is not there: spate's message, S3's answer, no number
    with pytest.raises(spate.SpateError) as e:
        client.load_data.read_csv_stage("production_s3", "nothere.csv",
                                        table=tmp_path / "none")
    msg = str(e.value)
    assert "option 'path': cannot read nothere.csv: S3 HEAD " \
        "s3://lake/raw/nothere.csv: HTTP 404" in msg, msg
    assert e.value.errno > 0
    assert not (tmp_path / "none").exists()
    out, err = capfd.readouterr()
    for text in (out, err, msg, repr(st), str(vars(st)),
                 repr(client.stage.list())):
        assert SECRET not in text, text


def two_source_session(client, s3, tmp_path, users_key):
    with client.session() as session:
        s3_stage(session, s3, "source_a")
        session.stage.create_local("source_b", tmp_path / "local")
        session.load_data.read_csv_stage(
            "source_a", users_key, table=tmp_path / "users",
            ignore_lines=1, schema=USER_SCHEMA)
        session.load_data.read_csv_stage(
            "source_b", "orders.csv", table=tmp_path / "orders",
            delimiter=";", schema=ORDER_SCHEMA)
    return session


def test_session_loads_s3_and_local_together(tmp_path, s3):
    """The seed's 'multi-source data integration': both tables or none."""
    s3.put("lake", "raw/users.csv", USERS)
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "orders.csv").write_text(orders(1, 20)[0])
    client = spate.Client(catalog=tmp_path / "catalog.db")

    # the S3 key is missing: the local table is not published either,
    # and the stages made in the session are gone again
    with pytest.raises(spate.SpateError, match="users-typo.csv"):
        two_source_session(client, s3, tmp_path, "users-typo.csv")
    assert not (tmp_path / "users").exists()
    assert not (tmp_path / "orders").exists()
    assert client.stage.list() == []
    assert list((tmp_path / "credentials").glob("*")) == []

    session = two_source_session(client, s3, tmp_path, "users.csv")
    assert session.status.records_in == 23
    assert read_jsonl_dir(tmp_path / "users") == USER_RECORDS
    assert read_jsonl_dir(tmp_path / "orders") == orders(1, 20)[1]
