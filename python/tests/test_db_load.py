"""read_csv_stage into database tables (spate.Table: the postgres
destination), as the seed loads into tables: from an S3 catalog stage
into PostgreSQL, values typed by the table's columns, a rerun that adds
nothing, and sessions whose directory and database tables commit
together or not at all.  Every row is read back with psql."""
import pytest

import spate
from conftest import read_jsonl_dir

USERS = ("# exported by the shop\n"
         "id,name,email,age\n"
         "1,ann,ann@example.com,31\n"
         "2,\"bob, jr\",bob@example.com,22\n"
         "3,\"cid \"\"the kid\"\"\nsecond line\",,7\n")
USER_ROWS = ["1|ann|ann@example.com|31", "2|bob, jr|bob@example.com|22",
             "3|cid \"the kid\"", "second line||7"]  # psql splits the \n


def test_from_s3_into_postgres(tmp_path, s3, pg):
    pg.sql("CREATE TABLE users (id int8 PRIMARY KEY, name text NOT NULL, "
           "email text, age int)")
    s3.put("lake", "raw/users.csv", USERS)
    client = spate.Client(catalog=tmp_path / "catalog.db")
    client.stage.create_s3("production_s3", "lake", "raw/",
                           aws_key_id="S3RVER", aws_secret_key="x",
                           endpoint=s3.endpoint)
    users = spate.Table("users", conninfo=pg.conninfo)
    assert repr(users) == "Table('users', kind='postgres')"
    st = client.load_data.read_csv_stage("production_s3", "users.csv",
                                         table=users, ignore_lines=1)
    assert st.state == "finished" and st.records_in == 3 and st.errors == 0
    assert pg.sql("SELECT id, name, email, age FROM users ORDER BY id") \
        == USER_ROWS
    # the same input again: nothing added (the load history and the
    # table's own ledger)
    again = client.load_data.read_csv_stage("production_s3", "users.csv",
                                            table=users, ignore_lines=1)
    assert again.records_in == 0
    assert pg.sql("SELECT count(*) FROM users") == ["3"]


def test_sessions_with_database_and_directory_tables(tmp_path, pg):
    pg.sql("CREATE TABLE orders (id int8 PRIMARY KEY, user_id int NOT NULL,"
           " amount numeric(10,2))")
    d = tmp_path / "imports"
    d.mkdir()
    (d / "users.csv").write_text("id,name\n1,ann\n2,bob\n")
    (d / "orders.csv").write_text("id,user_id,amount\n7,1,9.50\n8,2,3\n")
    (d / "bad_orders.csv").write_text("id,user_id,amount\n9,1,1.25\n"
                                      "10,2,lots\n")
    client = spate.Client(catalog=tmp_path / "catalog.db")
    client.stage.create_local("imports", d)
    orders = spate.Table("orders", conninfo=pg.conninfo)

    # a value the table refuses fails the session: neither table
    with pytest.raises(spate.SpateError) as e:
        with client.session() as s:
            s.load_data.read_csv_stage("imports", "users.csv",
                                       table=tmp_path / "users")
            s.load_data.read_csv_stage("imports", "bad_orders.csv",
                                       table=orders)
    assert str(e.value).endswith(
        "bad_orders.csv:3 (byte 27): column 'amount' (numeric(10,2)): "
        "'lots' is not a number"), str(e.value)
    assert pg.sql("SELECT count(*) FROM orders") == ["0"]
    assert read_jsonl_dir(tmp_path / "users") == []

    with client.session() as s:
        s.load_data.read_csv_stage("imports", "users.csv",
                                   table=tmp_path / "users")
        s.load_data.read_csv_stage("imports", "orders.csv", table=orders)
    assert s.status.records_in == 4
    assert read_jsonl_dir(tmp_path / "users") == [
        {"id": "1", "name": "ann"}, {"id": "2", "name": "bob"}]
    assert pg.sql("SELECT id, user_id, amount FROM orders ORDER BY id") == \
        ["7|1|9.50", "8|2|3.00"]

    # a table's own options are checked like any stage's
    with pytest.raises(KeyError, match="did you mean 'conninfo'"):
        client.load_data.read_csv_stage(
            "imports", "orders.csv",
            table=spate.Table("orders", connifo=pg.conninfo))
