#!/usr/bin/env python3
"""Checks a partitioned file_writer output against its input, for spate's
tests: every file the manifest lists is read (zstd ones through the zstd
command), every record must sit in the folder that README "Partitioned
output" derives from its values (recomputed here, independently of
spate), and the records of each folder must be exactly the input's
records of that folder, each as often as in the input.

usage: check_partitions.py DIR INPUT.jsonl PATH... [--disk]
       check_partitions.py --s3 ENDPOINT BUCKET PREFIX INPUT.jsonl PATH...
  DIR     holds _manifest.json and the files it names
  --disk  also: the files under DIR are exactly the manifest's
  --s3    every object under s3://BUCKET/PREFIX (boto3, key S3RVER) is
          downloaded first; then as DIR with --disk

Prints "OK files=F records=R folders=P" or the first difference, and
exits 1 then.
"""
import collections
import json
import os
import subprocess
import sys

KEEP_NOT = set('/\\%="*:<>?|#\'[]{}^`')
VALUE_MAX = 120


def xxh64(data):
    """XXH64, seed 0 (as spate's sp_commit_xxh64)."""
    P1, P2, P3 = 11400714785074694791, 14029467366897019727, \
        1609587929392839161
    P4, P5 = 9650029242287828579, 2870177450012600261
    M = (1 << 64) - 1

    def rotl(x, r):
        return ((x << r) | (x >> (64 - r))) & M

    def rnd(acc, lane):
        acc = (acc + lane * P2) & M
        return (rotl(acc, 31) * P1) & M

    def merge(acc, val):
        acc ^= rnd(0, val)
        return (acc * P1 + P4) & M

    n, i = len(data), 0
    if n >= 32:
        v = [(P1 + P2) & M, P2, 0, (-P1) & M]
        while i + 32 <= n:
            for k in range(4):
                v[k] = rnd(v[k], int.from_bytes(data[i:i + 8], "little"))
                i += 8
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) +
             rotl(v[3], 18)) & M
        for k in range(4):
            h = merge(h, v[k])
    else:
        h = P5
    h = (h + n) & M
    while i + 8 <= n:
        h ^= rnd(0, int.from_bytes(data[i:i + 8], "little"))
        h = (rotl(h, 27) * P1 + P4) & M
        i += 8
    if i + 4 <= n:
        h ^= (int.from_bytes(data[i:i + 4], "little") * P1) & M
        h = (rotl(h, 23) * P2 + P3) & M
        i += 4
    while i < n:
        h ^= (data[i] * P5) & M
        h = (rotl(h, 11) * P1) & M
        i += 1
    h ^= h >> 33
    h = (h * P2) & M
    h ^= h >> 29
    h = (h * P3) & M
    h ^= h >> 32
    return h


def escape(raw):
    if raw == b"":
        return "__empty__"
    out = bytearray()
    for i, c in enumerate(raw):
        if len(out) + 3 > VALUE_MAX:
            out += b"~%016x" % xxh64(raw)
            break
        kept = c >= 0x80 or c == 0x20 or \
            (0x20 < c < 0x7f and chr(c) not in KEEP_NOT)
        if not kept or (i == 0 and c == ord(".")) or \
                (i == 0 and raw[:2] == b"__"):
            out += b"%%%02X" % c
        else:
            out.append(c)
    return out.decode("utf-8")


def text(v):
    if isinstance(v, bool):
        return b"true" if v else b"false"
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, int):
        return str(v).encode()
    raise SystemExit("value %r: the test uses strings, ints and bools" % v)


def folder(rec, paths):
    parts = []
    for p in paths:
        v = rec
        for k in p.strip("/").split("/"):
            v = v.get(k) if isinstance(v, dict) else None
        name = p.strip("/").replace("/", ".")
        parts.append("%s=%s/" % (name, "__null__" if v is None
                                 else escape(text(v))))
    return "".join(parts)


def download(endpoint, bucket, prefix, to):
    import boto3
    s3 = boto3.client("s3", endpoint_url=endpoint,
                      aws_access_key_id="S3RVER",
                      aws_secret_access_key="S3RVER",
                      region_name="us-east-1")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                         Prefix=prefix)
    for page in pages:
        for o in page.get("Contents", []):
            path = os.path.join(to, o["Key"][len(prefix):])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            s3.download_file(bucket, o["Key"], path)


def main():
    args = [a for a in sys.argv[1:] if a != "--disk"]
    disk = "--disk" in sys.argv
    if args[0] == "--s3":
        import atexit
        import shutil
        import tempfile
        d = tempfile.mkdtemp(prefix="spate-e2e-parts-")
        atexit.register(shutil.rmtree, d, True)
        download(args[1], args[2], args[3], d)
        args, disk = [d] + args[4:], True
    d, inp, paths = args[0], args[1], args[2:]
    man = json.load(open(os.path.join(d, "_manifest.json")))
    names = [f["name"] for f in man["files"]]
    if len(set(names)) != len(names):
        raise SystemExit("a name is listed twice")
    if disk:
        found = set()
        for root, _, files in os.walk(d):
            for f in files:
                found.add(os.path.relpath(os.path.join(root, f), d))
        found.discard("_manifest.json")
        if found != set(names):
            raise SystemExit("on disk, not listed: %s; listed, not on "
                             "disk: %s" % (sorted(found - set(names))[:5],
                                           sorted(set(names) - found)[:5]))
    want = collections.Counter()
    for line in open(inp, encoding="utf-8"):
        line = line.rstrip("\n")
        want[(folder(json.loads(line), paths), line)] += 1
    got = collections.Counter()
    for f in man["files"]:
        name = f["name"]
        real = os.path.realpath(os.path.join(d, name))
        if not real.startswith(os.path.realpath(d) + os.sep):
            raise SystemExit("%s leaves %s" % (name, d))
        data = open(os.path.join(d, name), "rb").read()
        if name.endswith(".zst"):
            data = subprocess.run(["zstd", "-dcq"], input=data, check=True,
                                  stdout=subprocess.PIPE).stdout
        lines = data.decode("utf-8").splitlines()
        if len(lines) != f["records"]:
            raise SystemExit("%s: %d records, the manifest says %d" %
                             (name, len(lines), f["records"]))
        where = os.path.dirname(name) + "/"
        for line in lines:
            rec = json.loads(line)
            if folder(rec, paths) != where:
                raise SystemExit("%s holds a record of %s: %s" %
                                 (name, folder(rec, paths), line))
            got[(where, line)] += 1
    if got != want:
        missing = list((want - got).items())[:3]
        extra = list((got - want).items())[:3]
        raise SystemExit("records differ: missing %s, extra %s" %
                         (missing, extra))
    print("OK files=%d records=%d folders=%d" %
          (len(names), sum(got.values()), len({k[0] for k in got})))


if __name__ == "__main__":
    main()
