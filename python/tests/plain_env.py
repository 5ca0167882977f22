"""The environment for the servers and command-line tools the tests start
(scripts/dbserver, psql, s3rver, curl): the caller's, without the sanitizer
runtime that scripts/test-python preloads into the interpreter under an
ASan build.  Those programs are not built for it, and PostgreSQL's initdb
never returns with it preloaded."""
import os


def plain_env():
    return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
