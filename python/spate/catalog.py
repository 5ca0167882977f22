"""The stage catalog from Python, in the shape of MatrixOne's client:
Client().stage.create_s3 / create_local / list / get / alter / drop,
client.load_data.read_csv_stage(stage, file, table=DIR), and
`with client.session() as s:` grouping loads into one run that commits
all or nothing.

A session's stages are made at once (later calls in the block use
them); each is noted in a journal beside the catalog
(sessions/PID-N.json), so that when the process dies inside the block the
next Client of that catalog drops them, as a failed block would have.

Secrets given as arguments (aws_key_id, aws_secret_key) never enter the
catalog database: they go to a credentials file of mode 0600 in a 0700
folder beside the database, and the catalog keeps only that file's path.
No repr, log or error message of this module contains a secret.
"""
import datetime
import hashlib
import itertools
import json
import os
import pathlib
import re
import tempfile

from . import _native
from .errors import SpateError
from .flow import Flow


class CatalogStage:
    """A stage of the catalog (no secrets: where they come from only)."""

    def __init__(self, d):
        self.name = d["name"]
        self.kind = d["kind"]
        self.url = d["url"]
        self.path = d["path"]
        self.bucket = d["bucket"]
        self.endpoint = d["endpoint"]
        self.region = d["region"]
        self.enabled = d["enabled"]
        self.created_time = datetime.datetime.fromtimestamp(
            d["created"], datetime.timezone.utc)
        self.comment = d["comment"]
        if d["credentials_file"]:
            self.credentials = f"file:{d['credentials_file']}"
        elif d["key_id_env"]:
            self.credentials = (f"env:{d['key_id_env']} / "
                                f"env:{d['secret_env']}")
        else:
            self.credentials = None
        self.credentials_file = d["credentials_file"]

    def __repr__(self):
        return (f"CatalogStage(name={self.name!r}, url={self.url!r}, "
                f"enabled={self.enabled}, comment={self.comment!r})")


class Table:
    """A database table that read_csv_stage loads into, through spate's
    database destinations: spate.Table('orders', conninfo='host=...
    dbname=shop') for PostgreSQL (COPY), or kind='mysql' with host,
    socket, user, database (LOAD DATA LOCAL INFILE; MariaDB, MatrixOne).
    columns maps column -> record path; other keywords are the
    destination's options (password_env, method, ...).  Values are typed
    by the table's columns; the load is one transaction."""

    def __init__(self, name, kind="postgres", columns=None, **options):
        self.name = name
        self.kind = kind
        self.columns = columns
        self.options = options

    def _identity(self):
        return repr((self.kind, self.name, sorted(self.options.items())))

    def __repr__(self):
        # options stay out: a conninfo may hold a password
        return f"Table({self.name!r}, kind={self.kind!r})"


def _write_credentials(folder, name, key_id, secret):
    """Writes an AWS-style credentials file readable by its owner only,
    under a name of its own (NAME-XXXXXXXX.ini): a call that fails later
    removes it and leaves the stage's current file as it was.  Returns
    its path."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    fd, path = tempfile.mkstemp(prefix=f"{name}-", suffix=".ini",
                                dir=folder)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("[default]\n")
            f.write(f"aws_access_key_id = {key_id}\n")
            f.write(f"aws_secret_access_key = {secret}\n")
    except BaseException:
        os.unlink(path)
        raise
    return path


def _key_pair(credentials):
    keys = {k.upper(): v for k, v in credentials.items()}
    key_id = keys.get("AWS_KEY_ID") or keys.get("AWS_ACCESS_KEY_ID")
    secret = keys.get("AWS_SECRET_KEY") or keys.get("AWS_SECRET_ACCESS_KEY")
    if not key_id or not secret:
        raise SpateError("credentials: give AWS_KEY_ID and AWS_SECRET_KEY "
                         "(or KEY_ID_ENV and SECRET_ENV, the names of "
                         "environment variables holding them)", 22)
    return key_id, secret


class StageManager:
    """client.stage: the catalog's stages."""

    def __init__(self, client, session=None):
        self._client = client
        self._session = session  # notes the stages it makes

    @property
    def _cat(self):
        return self._client._catalog()

    def _credentials_dir(self):
        return pathlib.Path(self._cat.path).resolve().parent / "credentials"

    def _note(self, name):
        if self._session is not None:
            self._session._created_stage(self.get(name))

    def create_s3(self, name, bucket, path="", aws_key_id=None,
                  aws_secret_key=None, region=None, endpoint=None,
                  comment=None, key_id_env=None, secret_env=None):
        """An S3 stage; secrets go to a 0600 file, never the database."""
        cred = None
        if aws_key_id is not None or aws_secret_key is not None:
            key_id, secret = _key_pair({"AWS_KEY_ID": aws_key_id,
                                        "AWS_SECRET_KEY": aws_secret_key})
            cred = _write_credentials(self._credentials_dir(), name, key_id,
                                      secret)
        try:
            self._cat.create_s3(name, bucket, path=path or None,
                                endpoint=endpoint, region=region,
                                key_id_env=key_id_env,
                                secret_env=secret_env,
                                credentials_file=cred, comment=comment)
        except SpateError:
            self._remove_credentials(cred)
            raise
        self._note(name)
        return self.get(name)

    def _remove_credentials(self, path):
        """Removes a credentials file this client made (one named by
        the user stays)."""
        if path and pathlib.Path(path).parent == self._credentials_dir():
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def create_local(self, name, path, comment=None):
        """A local folder stage (path made absolute)."""
        self._cat.create_local(name, os.path.abspath(os.fspath(path)),
                               comment)
        self._note(name)
        return self.get(name)

    def list(self):
        return [CatalogStage(d) for d in self._cat.list()]

    def get(self, name):
        return CatalogStage(self._cat.get(name))

    def exists(self, name):
        try:
            self.get(name)
            return True
        except SpateError:
            return False

    def alter(self, name, url=None, credentials=None, enable=None,
              comment=None):
        """Changes url, credentials ({'AWS_KEY_ID', 'AWS_SECRET_KEY'} or
        {'KEY_ID_ENV', 'SECRET_ENV'}), enabled, comment."""
        kw = {}
        old = new = None
        if credentials is not None:
            upper = {k.upper(): v for k, v in credentials.items()}
            old = self.get(name).credentials_file  # unknown: no file made
            if "KEY_ID_ENV" in upper:
                kw["key_id_env"] = upper["KEY_ID_ENV"]
                kw["secret_env"] = upper.get("SECRET_ENV")
            else:
                key_id, secret = _key_pair(credentials)
                new = kw["credentials_file"] = _write_credentials(
                    self._credentials_dir(), name, key_id, secret)
        if enable is not None:
            kw["enabled"] = 1 if enable else 0
        try:
            self._cat.alter(name, url=url, comment=comment, **kw)
        except SpateError:
            self._remove_credentials(new)
            raise
        if credentials is not None and old != new:
            self._remove_credentials(old)

    def drop(self, name):
        """Removes the stage and the credentials file made for it."""
        st = self.get(name)
        self._cat.drop(name)
        self._remove_credentials(st.credentials_file)


class LoadData:
    """client.load_data: loads from catalog stages."""

    def __init__(self, client, pending=None):
        self._client = client
        self._pending = pending  # session: loads waiting for the commit

    def read_csv_stage(self, stage, file, table=None, ignore_lines=0,
                       delimiter=",", header=True, schema=None,
                       format="jsonl", compression="none", force=False,
                       on_error="abort"):
        """Loads CSV file(s) (a path or glob under the stage's root) into
        table, a directory (written atomically as JSON lines by default).
        A row that does not fit the schema fails the load (on_error
        'abort', as a database's load does); 'skip_file' leaves out the
        files with bad rows, 'continue' only those rows (counted in the
        status's errors).  Returns the run's RunStatus; inside a session
        the load runs with the session's others when it ends."""
        if table is None:
            raise SpateError("read_csv_stage: give table, the directory "
                             "to load into", 22)
        if not isinstance(table, Table):
            table = os.path.abspath(os.fspath(table))
        load = dict(stage=stage, file=file, table=table,
                    ignore_lines=ignore_lines,
            delimiter=delimiter, header=header, schema=schema,
            format=format, compression=compression, on_error=on_error)
        if self._pending is not None:
            self._pending.append(load)
            return None
        return self._client._run_loads([load], force=force)


def _load_target(flow, stage_id, ld):
    table = ld["table"]
    if isinstance(table, Table):
        out = flow.add_stage(name=table.kind, stage_id=stage_id)
        out.configuration.update(table=table.name, **table.options)
        if table.columns:
            out.configuration["columns"] = table.columns
        return out
    out = flow.add_stage(name="file_writer", stage_id=stage_id)
    out.configuration.update(dir=table, format=ld["format"],
                             compression=ld["compression"],
                             name="{flow}-{run}-{seq}.{ext}")
    return out


def _load_name(loads):
    """The load flow's name, which keys the load history: the same files
    into the same targets are skipped as loaded before, into other
    targets (a table of the same name elsewhere, another session's set)
    they load."""
    ids = [t._identity() if isinstance(t, Table) else t
           for t in (ld["table"] for ld in loads)]
    digest = hashlib.sha256("\0".join(ids).encode()).hexdigest()[:12]
    t = loads[0]["table"]
    base = (t.name if isinstance(t, Table) else os.path.basename(t)) \
        if len(loads) == 1 else "session"
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"load_{base}_{digest}")


def _load_flow(loads, name):
    flow = Flow(name)
    for i, ld in enumerate(loads, 1):
        src = flow.add_stage(name="file_reader", stage_id=f"read_{i}")
        c = src.configuration
        c["stage"] = ld["stage"]
        c["path"] = os.fspath(ld["file"])
        c["format"] = "csv"
        c["delimiter"] = ld["delimiter"]
        c["header"] = ld["header"]
        c["ignore_lines"] = ld["ignore_lines"]
        c["on_error"] = ld["on_error"]
        if ld["schema"]:
            c["schema"] = ld["schema"]
        out = _load_target(flow, f"load_{i}", ld)
        if ld["on_error"] == "abort":
            # all or nothing: a row the target refuses fails it too
            src.configuration["on_record_error"] = "stop"
            out.configuration["on_record_error"] = "stop"
        src.connect_output_to(out)
    return flow


def _process_start(pid):
    """The start time of process pid (clock ticks after boot), or None
    when there is no such process: with the pid it names one process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


_journal_names = itertools.count(1)


class Session:
    """`with client.session() as s:` stages created and loads queued in
    the block; at its end the loads run as one run, so that every table
    is published or none.  On failure (an exception in the block, a load
    that fails) the stages created in it are dropped; when the process
    dies in the block, by the next Client of the catalog (the journal)."""

    def __init__(self, client):
        self._client = client
        self._created = []      # (name, created) of the stages made here
        self._loads = []
        self._journal = None
        self.stage = StageManager(client, self)
        self.load_data = LoadData(client, self._loads)
        self.status = None

    def __enter__(self):
        return self

    def _created_stage(self, st):
        self._created.append((st.name, st.created_time.timestamp()))
        if self._journal is None:
            folder = self._client._sessions_dir()
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._journal = folder / \
                f"{os.getpid()}-{next(_journal_names)}.json"
        tmp = self._journal.with_suffix(".tmp")
        tmp.write_text(json.dumps({
            "pid": os.getpid(), "start": _process_start(os.getpid()),
            "stages": self._created}))
        os.replace(tmp, self._journal)

    def _forget(self):
        if self._journal is not None:
            self._journal.unlink(missing_ok=True)
            self._journal = None

    def _undo(self):
        _drop_made(self._client, self._created)
        self._forget()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self._undo()
            return False
        try:
            if self._loads:
                self.status = self._client._run_loads(self._loads)
        except BaseException:
            self._undo()
            raise
        self._forget()
        return False


def _drop_made(client, made):
    """Drops the stages (name, created time) made by a session, unless
    the name now belongs to a stage made since."""
    for name, created in reversed(made):
        try:
            if client.stage.get(name).created_time.timestamp() == created:
                client.stage.drop(name)
        except SpateError:
            pass


def _recover_sessions(client):
    """Undoes the sessions whose process died inside the block."""
    folder = client._sessions_dir()
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            j = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if j.get("start") is not None and \
                _process_start(j["pid"]) == j["start"]:
            continue    # its process still runs the block
        _drop_made(client, [tuple(m) for m in j.get("stages", [])])
        path.unlink(missing_ok=True)


class Client:
    """spate.Client(catalog=None): the stage catalog at catalog (a path;
    None: $SPATE_HOME/catalog.db or the XDG default)."""

    def __init__(self, catalog=None):
        self._path = os.fspath(catalog) if catalog is not None else None
        self._cat = None
        self.stage = StageManager(self)
        self.load_data = LoadData(self)

    def connect(self, **kw):
        """Opens the catalog now (it is also opened on first use)."""
        self._catalog()
        return self

    def disconnect(self):
        self._cat = None

    def _catalog(self):
        if self._cat is None:
            self._cat = _native.Catalog(self._path)
            _recover_sessions(self)
        return self._cat

    def _sessions_dir(self):
        return pathlib.Path(self._catalog().path).resolve().parent / \
            "sessions"

    @property
    def catalog_path(self):
        return self._catalog().path

    def session(self):
        return Session(self)

    def _run_loads(self, loads, force=False):
        flow = _load_flow(loads, _load_name(loads))
        flow.catalog = self.catalog_path
        return flow.run(force=force)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.disconnect()
        return False
