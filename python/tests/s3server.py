"""s3rver (npm s3rver@3.7.1, which scripts/deps installs into
build/npm) on loopback for the tests, and objects put into it with curl
signed as its one account (S3RVER).  s3rver does not check signatures, so
a test may give a stage any secret with the key id S3RVER."""
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from plain_env import plain_env

SOURCE = pathlib.Path(__file__).resolve().parents[2]
KEY_ID = "S3RVER"


def s3rver_bin():
    return os.environ.get("SPATE_S3RVER") or str(
        SOURCE / "build" / "npm" / "node_modules" / ".bin" / "s3rver")


class S3rver:
    def __init__(self, buckets):
        binary = s3rver_bin()
        if not os.access(binary, os.X_OK):
            pytest.skip(f"s3rver is not installed at {binary} "
                        "(scripts/deps installs it)")
        self.dir = tempfile.mkdtemp(prefix="spate-e2e-s3-")
        data = os.path.join(self.dir, "data")
        os.mkdir(data, 0o700)
        self.log = os.path.join(self.dir, "s3rver.log")
        argv = ["node", "--openssl-legacy-provider", binary, "-d", data,
                "-a", "127.0.0.1", "-p", "0", "--silent"]
        for b in buckets:
            argv += ["--configure-bucket", b]
        with open(self.log, "w") as log:
            # its own session: a kill of the group ends node and children
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log,
                                         start_new_session=True,
                                         env=plain_env())
        port = None
        for _ in range(1500):
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)",
                          open(self.log).read())
            if m:
                port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)
        if port is None:
            self.stop()
            raise RuntimeError(f"s3rver did not start (log: "
                               f"{open(self.log).read()!r})")
        self.endpoint = f"http://127.0.0.1:{port}"

    def _curl(self, *args):
        subprocess.run(["curl", "-sS", "-f", "--aws-sigv4",
                        "aws:amz:us-east-1:s3", "--user",
                        f"{KEY_ID}:{KEY_ID}", "-H",
                        "x-amz-content-sha256: UNSIGNED-PAYLOAD", *args],
                       check=True, stdout=subprocess.DEVNULL,
                       env=plain_env())

    def put(self, bucket, key, data):
        src = os.path.join(self.dir, "put.body")
        with open(src, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        self._curl("-T", src, f"{self.endpoint}/{bucket}/{key}")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
