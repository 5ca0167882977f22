"""Secrets audit: secrets planted as arguments (create_s3, alter, a
create and an alter that fail) and as environment variable values (a
stage naming the variables) appear in no output of the package - not on
stdout or stderr, in no exception, in no repr() or str() of its objects,
in no file it writes (the catalog database and its journal files, load
history, tables, session journals) - only in the credentials file that
holds the stage's current secret, mode 0600."""
import os
import stat

import pytest

import spate

ARG_SECRET = "planted-arg-secret-4c1e"
ARG_KEY = "S3RVER"            # s3rver's one key id
ALTER_SECRET = "planted-alter-secret-91d0"
FAILED_SECRETS = ["planted-failed-create-77aa", "planted-failed-alter-3e2f",
                  "PLANTEDKEYIDFAILED"]
ENV_SECRET = "planted-env-secret-5b6c"
ENV_BAD_KEY = "PLANTEDWRONGKEYID"


def every_file(root):
    for d, _, files in os.walk(root):
        for f in files:
            yield os.path.join(d, f)


def test_planted_secrets_reach_no_output(tmp_path, s3, capfd, monkeypatch):
    monkeypatch.setenv("LAKE_KEY", "S3RVER")
    monkeypatch.setenv("LAKE_SECRET", ENV_SECRET)
    monkeypatch.setenv("BAD_KEY", ENV_BAD_KEY)
    s3.put("lake", "raw/users.csv", "id,name\n1,ann\n2,bob\n")
    s3.put("lake", "env/users.csv", "id,name\n3,cid\n")
    seen = []                 # every text the package gave back
    client = spate.Client(catalog=tmp_path / "cat" / "catalog.db")
    st = client.stage.create_s3("args", "lake", "raw/", aws_key_id=ARG_KEY,
                                aws_secret_key=ARG_SECRET,
                                endpoint=s3.endpoint)
    envst = client.stage.create_s3("envs", "lake", "env/",
                                   endpoint=s3.endpoint,
                                   key_id_env="LAKE_KEY",
                                   secret_env="LAKE_SECRET")
    bad = client.stage.create_s3("bad", "lake", "env/",
                                 endpoint=s3.endpoint, key_id_env="BAD_KEY",
                                 secret_env="LAKE_SECRET")
    seen += [repr(st), str(st), str(vars(st)), repr(envst), str(vars(envst)),
             repr(bad), repr(client.stage.list()), repr(client.stage),
             repr(client)]
    assert envst.credentials == "env:LAKE_KEY / env:LAKE_SECRET"

    # loads that work, through both kinds of credentials, in a session too
    out = tmp_path / "tables"
    r1 = client.load_data.read_csv_stage("args", "users.csv",
                                         table=out / "a")
    with client.session() as s:
        s.load_data.read_csv_stage("envs", "users.csv", table=out / "e")
        seen.append(repr(s))
    seen += [repr(r1), repr(s.status), str(r1.stages), str(s.status.stages)]
    assert r1.records_in == 2 and s.status.records_in == 1

    # failures: a refused key id, a missing object, a failed create and
    # alter that carried secrets, bad credentials arguments
    failures = [
        lambda: client.load_data.read_csv_stage("bad", "users.csv",
                                                table=out / "b"),
        lambda: client.load_data.read_csv_stage("args", "none.csv",
                                                table=out / "n"),
        lambda: client.stage.create_s3("args", "other-bucket",
                                       aws_key_id=FAILED_SECRETS[2],
                                       aws_secret_key=FAILED_SECRETS[0]),
        lambda: client.stage.alter("args", url="ftp://nowhere",
                                   credentials={
                                       "AWS_KEY_ID": FAILED_SECRETS[2],
                                       "AWS_SECRET_KEY": FAILED_SECRETS[1]}),
        lambda: client.stage.alter("nostage", credentials={
            "AWS_KEY_ID": FAILED_SECRETS[2],
            "AWS_SECRET_KEY": FAILED_SECRETS[1]}),
        lambda: client.stage.create_s3("half", "lake",
                                       aws_key_id=FAILED_SECRETS[2]),
    ]
    for call in failures:
        with pytest.raises(spate.SpateError) as e:
            call()
        seen += [str(e.value), repr(e.value), str(e.value.args),
                 repr(getattr(e.value, "status", None))]
    assert "S3 HEAD s3://lake/env/users.csv: HTTP 403" in seen[-24], \
        seen[-24]
    assert "none.csv: S3 HEAD" in seen[-20], seen[-20]

    client.stage.alter("args", credentials={"AWS_KEY_ID": ARG_KEY,
                                            "AWS_SECRET_KEY": ALTER_SECRET})
    r2 = client.load_data.read_csv_stage("args", "users.csv",
                                         table=out / "a2")
    assert r2.records_in == 2
    st = client.stage.get("args")
    seen += [repr(st), str(vars(st)), repr(r2)]
    o, e = capfd.readouterr()
    seen += [o, e]

    planted = [ARG_SECRET, ALTER_SECRET, ENV_SECRET, ENV_BAD_KEY,
               *FAILED_SECRETS]
    for text in seen:
        for secret in planted:
            assert secret not in text, (secret, text)

    # files: only the stage's current credentials file holds its secret
    cred = st.credentials_file
    assert stat.S_IMODE(os.stat(cred).st_mode) == 0o600
    assert ALTER_SECRET in open(cred).read()
    home = os.environ["SPATE_HOME"]
    files = list(every_file(tmp_path)) + list(every_file(home))
    assert any(f.endswith("catalog.db") for f in files)
    for f in files:
        if f == cred or f.startswith(s3.dir):
            continue
        data = open(f, "rb").read()
        for secret in planted:
            assert secret.encode() not in data, (secret, f)
    assert os.listdir(os.path.dirname(cred)) == [os.path.basename(cred)]
