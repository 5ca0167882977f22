"""A throwaway PostgreSQL server for the tests (scripts/dbserver: a unix
socket in a folder of its own, nothing left running), and psql."""
import pathlib
import subprocess
import tempfile

import pytest

from plain_env import plain_env

SOURCE = pathlib.Path(__file__).resolve().parents[2]


class Postgres:
    def __init__(self):
        # under /tmp itself: the server runs as postgres, which cannot
        # enter pytest's 0700 folders
        self.dir = tempfile.mkdtemp(prefix="spate-e2e-pg-")
        p = subprocess.run([str(SOURCE / "scripts" / "dbserver"), "start",
                            "postgres", self.dir], capture_output=True,
                           text=True, env=plain_env())
        if p.returncode == 77:
            pytest.skip(p.stderr.strip())
        if p.returncode:
            self.stop()
            raise RuntimeError(f"postgres did not start: {p.stderr}")
        self.conninfo = p.stdout.strip()

    def sql(self, text):
        """psql -At: the rows, '|' between columns."""
        p = subprocess.run(["psql", self.conninfo, "-v", "ON_ERROR_STOP=1",
                            "-Atq", "-c", text], capture_output=True,
                           text=True, check=True, env=plain_env())
        return p.stdout.splitlines()

    def stop(self):
        subprocess.run([str(SOURCE / "scripts" / "dbserver"), "stop",
                        self.dir], capture_output=True, env=plain_env())
        subprocess.run(["rm", "-rf", self.dir])
