"""client.session(): the loads of a block commit together or not at all.
An exception in the block, a load that fails (a missing file, a row that
does not fit the schema) and a process killed during the session's run
each leave no table published and no stage made in the block; the next
Client of the catalog drops what a killed session made."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import spate
from conftest import read_jsonl_dir

SCHEMA = [{"name": "id", "type": "int"}, {"name": "user_id", "type": "int"},
          {"name": "amount", "type": "double"}]
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "session-secret-0b9d"


def write_orders(path, n, bad_line=None):
    with open(path, "w") as f:
        f.write("id,user_id,amount\n")
        f.write("".join(f"{i},{i % 97},{i % 1000}.5\n" for i in range(n)))
        if bad_line:
            f.write(bad_line)


def orders_ok(path, n):
    got = read_jsonl_dir(path)
    assert len(got) == n
    assert sorted(r["id"] for r in got) == list(range(n))
    assert all(r["user_id"] == r["id"] % 97 and
               r["amount"] == r["id"] % 1000 + 0.5 for r in got)


def load_tables(session, tmp_path, users="users.csv", orders="orders.csv"):
    """Queues the loads of the users and orders tables from 'daily'."""
    for table, file in (("users", users), ("orders", orders)):
        session.load_data.read_csv_stage("daily", file,
                                         table=tmp_path / table,
                                         schema=SCHEMA)


def nothing_left(tmp_path, client):
    """No table published, no stage, credentials file or journal left."""
    for table in ("users", "orders"):
        assert read_jsonl_dir(tmp_path / table) == []
        assert not (tmp_path / table / "_manifest.json").exists()
    assert client.stage.list() == []
    for folder in ("credentials", "sessions"):
        p = tmp_path / folder
        assert not p.exists() or list(p.iterdir()) == [], folder


def test_exception_in_the_block_rolls_everything_back(tmp_path):
    write_orders(tmp_path / "orders.csv", 10)
    client = spate.Client(catalog=tmp_path / "catalog.db")
    with pytest.raises(RuntimeError, match="changed my mind"):
        with client.session() as s:
            s.stage.create_local("daily", tmp_path)
            s.stage.create_s3("backup", "backups", "daily/", KEY_ID, SECRET)
            assert len(client.stage.list()) == 2  # usable in the block
            load_tables(s, tmp_path, "orders.csv", "orders.csv")
            raise RuntimeError("changed my mind")
    nothing_left(tmp_path, client)


def test_a_bad_row_fails_the_whole_session(tmp_path):
    write_orders(tmp_path / "users.csv", 50)
    write_orders(tmp_path / "orders.csv", 50, bad_line="51,x,1.0\n")
    client = spate.Client(catalog=tmp_path / "catalog.db")
    with pytest.raises(spate.SpateError) as e:
        with client.session() as s:
            s.stage.create_local("daily", tmp_path)
            load_tables(s, tmp_path)
    msg = str(e.value)
    assert "orders.csv:52" in msg and '"x" is not an int' in msg, msg
    nothing_left(tmp_path, client)

    # asked for: the bad row alone is left out, and counted
    client.stage.create_local("daily", tmp_path)
    st = client.load_data.read_csv_stage("daily", "orders.csv",
                                         table=tmp_path / "orders",
                                         schema=SCHEMA, on_error="continue")
    assert st.state == "finished" and st.errors == 1
    orders_ok(tmp_path / "orders", 50)


CHILD = textwrap.dedent("""\
    # A session whose process is killed (SIGKILL) while its run writes.
    import os, signal, sys, time
    import spate, spate.flow

    start = spate.flow.Flow.start

    def start_then_die(self, *a, **kw):
        run = start(self, *a, **kw)
        while run.status()["load_2"].records_in == 0:
            time.sleep(0.001)
        st = run.status()
        with open(sys.argv[2], "w") as f:
            f.write(f"{st.state} {st['load_2'].records_in}")
        os.kill(os.getpid(), signal.SIGKILL)

    spate.flow.Flow.start = start_then_die
    d = sys.argv[1]
    client = spate.Client(catalog=os.path.join(d, "catalog.db"))
    with client.session() as s:
        s.stage.create_local("daily", d)
        s.stage.create_s3("backup", "backups", "daily/",
                          aws_key_id="AKIAIOSFODNN7EXAMPLE",
                          aws_secret_key="session-secret-0b9d")
        schema = [{"name": "id", "type": "int"},
                  {"name": "user_id", "type": "int"},
                  {"name": "amount", "type": "double"}]
        for t in ("users", "orders"):
            s.load_data.read_csv_stage("daily", t + ".csv",
                                       table=os.path.join(d, t),
                                       schema=schema)
    print("not killed")
""")

N = 1_000_000


def test_a_killed_session_publishes_nothing_and_is_undone(tmp_path):
    write_orders(tmp_path / "users.csv", 1000)
    write_orders(tmp_path / "orders.csv", N)
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    seen = tmp_path / "seen"
    p = subprocess.run([sys.executable, str(child), str(tmp_path),
                        str(seen)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == -signal.SIGKILL, p.stdout + p.stderr
    state, records = seen.read_text().split()
    assert state == "running" and 0 < int(records) < N
    # killed while writing: no table published ...
    for table in ("users", "orders"):
        assert read_jsonl_dir(tmp_path / table) == []
    # ... the stages it made are still there, with its journal
    assert len(list((tmp_path / "sessions").iterdir())) == 1

    # the next client of the catalog undoes the session
    client = spate.Client(catalog=tmp_path / "catalog.db")
    nothing_left(tmp_path, client)

    # the same session again: both tables, every record, no leftovers
    with client.session() as s:
        s.stage.create_local("daily", tmp_path)
        s.stage.create_s3("backup", "backups", "daily/", KEY_ID, SECRET)
        load_tables(s, tmp_path)
    assert s.status.records_in == N + 1000
    orders_ok(tmp_path / "users", 1000)
    orders_ok(tmp_path / "orders", N)
    assert [st.name for st in client.stage.list()] == ["backup", "daily"]
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith(".")) \
        == []
    assert list((tmp_path / "sessions").iterdir()) == []
