#!/usr/bin/env python3
"""A checking proxy in front of an S3 server, for spate's tests.

Every request must carry an AWS Signature V4 that this proxy recomputes
from the request as received, the way AWS S3 does (canonical URI encoded
once, query parameters decoded, re-encoded per RFC 3986 and sorted, the
signed headers, the x-amz-content-sha256 payload hash, which is also
checked against the body unless it is UNSIGNED-PAYLOAD).  A request with
an unknown key id is refused with 403 InvalidAccessKeyId, one with a wrong
signature (a wrong secret) with 403 SignatureDoesNotMatch; good ones go on
to the upstream server (s3rver).

It also serves what s3rver lacks: it notes the multipart uploads created
through it, answers AbortMultipartUpload and ListMultipartUploads from
those notes, and forgets an upload once it is completed or aborted.

Faults for retry tests: --fail N answers the first N requests matching
--fail-match (a regex over "METHOD /path?query") with --fail-kind: 503
(SlowDown), 500 (InternalError) or reset (the connection is closed
without an answer).

Policies: --deny-match REGEX answers a well-signed request matching it
(over "METHOD /path?query") with 403 AccessDenied, as S3 does for
credentials whose policy does not allow the call.

Kills at a chosen request: with --hold-file PATH, a request matching the
regex that file holds (over "METHOD /path?query") is held: the file is
renamed to PATH.taken (so one request only is held), "HOLD" is logged,
and once PATH.taken is removed the connection is closed without an
answer and without forwarding, as if the client had died before sending.

Prints "listening on 127.0.0.1:PORT" once ready; one line per request
goes to --log: "OK", "BADSIG", "BADKEY", "NOAUTH" or "FAULT", then the
method and the path with its query ("DENY" for --deny-match).
"""
import argparse
import hashlib
import hmac
import http.client
import http.server
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
from xml.sax.saxutils import escape

ARGS = None
LOCK = threading.Lock()
UPLOADS = {}  # upload id -> key (with bucket: "bucket/key")
FAULTS = {"left": 0}


def enc(s):
    return urllib.parse.quote(s, safe="~")


def canonical_query(raw):
    pairs = []
    for part in raw.split("&") if raw else []:
        k, _, v = part.partition("=")
        pairs.append((enc(urllib.parse.unquote(k)),
                      enc(urllib.parse.unquote(v))))
    return "&".join(k + "=" + v for k, v in sorted(pairs))


def signature_ok(method, raw_path, raw_query, headers, body):
    """(verdict, detail): verdict OK, NOAUTH, BADKEY or BADSIG."""
    auth = headers.get("Authorization", "")
    m = re.match(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/"
                 r"s3/aws4_request, *SignedHeaders=([^,]+), *"
                 r"Signature=([0-9a-f]{64})$", auth)
    if not m:
        return "NOAUTH", "no AWS4-HMAC-SHA256 Authorization header"
    key_id, day, region, signed, sig = m.groups()
    if key_id != ARGS.key:
        return "BADKEY", key_id
    payload = headers.get("x-amz-content-sha256")
    if payload is None:
        return "BADSIG", "no x-amz-content-sha256"
    if payload != "UNSIGNED-PAYLOAD" and \
            payload != hashlib.sha256(body).hexdigest():
        return "BADSIG", "payload hash does not match the body"
    names = signed.split(";")
    if "host" not in names or names != sorted(names):
        return "BADSIG", "signed headers " + signed
    canon_headers = ""
    for n in names:
        v = headers.get(n)
        if v is None:
            return "BADSIG", "signed header %s missing" % n
        canon_headers += n + ":" + " ".join(v.split()) + "\n"
    uri = urllib.parse.quote(urllib.parse.unquote(raw_path), safe="/~")
    creq = "\n".join([method, uri, canonical_query(raw_query),
                      canon_headers, signed, payload])
    amz_date = headers.get("x-amz-date", "")
    scope = "%s/%s/s3/aws4_request" % (day, region)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + ARGS.secret).encode()
    for part in (day, region, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, sig):
        return "BADSIG", "signature differs"
    return "OK", ""


def error_xml(code, message):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
            '<Message>%s</Message></Error>' % (code, escape(message))
            ).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def note(self, verdict):
        with LOCK, open(ARGS.log, "a") as f:
            f.write("%s %s %s\n" % (verdict, self.command, self.path))

    def reply(self, status, body=b"", headers=(), length=None):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length",
                         str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def fault(self):
        line = "%s %s" % (self.command, self.path)
        with LOCK:
            if FAULTS["left"] <= 0 or \
                    not re.search(ARGS.fail_match, line):
                return False
            FAULTS["left"] -= 1
        self.note("FAULT")
        if ARGS.fail_kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.close_connection = True
            self.connection.close()
        elif ARGS.fail_kind == "500":
            self.reply(500, error_xml("InternalError", "injected fault"))
        else:
            self.reply(503, error_xml("SlowDown", "Please reduce your "
                                      "request rate."))
        return True

    def hold(self):
        if not ARGS.hold_file:
            return False
        line = "%s %s" % (self.command, self.path)
        taken = ARGS.hold_file + ".taken"
        with LOCK:
            try:
                with open(ARGS.hold_file) as f:
                    pattern = f.read().strip()
            except OSError:
                return False
            if not re.search(pattern, line):
                return False
            os.rename(ARGS.hold_file, taken)
        self.note("HOLD")
        while os.path.exists(taken):
            time.sleep(0.02)
        self.close_connection = True
        self.connection.close()
        return True

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        raw_path, _, raw_query = self.path.partition("?")
        hdrs = {k.lower(): v for k, v in self.headers.items()}
        hdrs["Authorization"] = self.headers.get("Authorization", "")
        verdict, detail = signature_ok(self.command, raw_path, raw_query,
                                       hdrs, body)
        if verdict != "OK":
            self.note(verdict)
            code = "InvalidAccessKeyId" if verdict == "BADKEY" else \
                "AccessDenied" if verdict == "NOAUTH" else \
                "SignatureDoesNotMatch"
            return self.reply(403, error_xml(code, "The request signature "
                                             "we calculated does not match "
                                             "the signature you provided. "
                                             "(" + detail + ")"))
        if ARGS.deny_match and \
                re.search(ARGS.deny_match, "%s %s" % (self.command,
                                                     self.path)):
            self.note("DENY")
            return self.reply(403, error_xml("AccessDenied",
                                             "Access Denied"))
        if self.fault() or self.hold():
            return None
        self.note("OK")
        q = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
        parts = raw_path.lstrip("/").split("/", 1)
        bucket = urllib.parse.unquote(parts[0])
        key = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
        if self.command == "GET" and "uploads" in q and not key:
            return self.list_uploads(bucket, q.get("prefix", [""])[0])
        if self.command == "DELETE" and "uploadId" in q:
            return self.abort(bucket, key, q["uploadId"][0])
        return self.forward(body, bucket, key, q)

    def list_uploads(self, bucket, prefix):
        with LOCK:
            ups = sorted((k, u) for u, k in UPLOADS.items()
                         if k.startswith(bucket + "/" + prefix))
        items = "".join("<Upload><Key>%s</Key><UploadId>%s</UploadId>"
                        "</Upload>" % (escape(k.split("/", 1)[1]),
                                       escape(u)) for k, u in ups)
        doc = ('<?xml version="1.0" encoding="UTF-8"?>\n'
               "<ListMultipartUploadsResult><Bucket>%s</Bucket>"
               "<IsTruncated>false</IsTruncated>%s"
               "</ListMultipartUploadsResult>" % (escape(bucket), items))
        self.reply(200, doc.encode())

    def abort(self, bucket, key, upload_id):
        with LOCK:
            known = UPLOADS.get(upload_id) == bucket + "/" + key
            if known:
                del UPLOADS[upload_id]
        if known:
            return self.reply(204)
        return self.reply(404, error_xml("NoSuchUpload", "The specified "
                                         "upload does not exist."))

    def forward(self, body, bucket, key, q):
        conn = http.client.HTTPConnection("127.0.0.1", ARGS.upstream)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("connection", "expect")}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        if self.command == "POST" and "uploads" in q and resp.status == 200:
            m = re.search(rb"<UploadId>([^<]+)</UploadId>", data)
            if m:
                with LOCK:
                    UPLOADS[m.group(1).decode()] = bucket + "/" + key
        if self.command == "POST" and "uploadId" in q and \
                resp.status == 200 and b"<Error>" not in data:
            with LOCK:
                UPLOADS.pop(q["uploadId"][0], None)
        keep = [(k, v) for k, v in resp.getheaders()
                if k.lower() not in ("content-length", "connection",
                                     "transfer-encoding", "date")]
        self.reply(resp.status, data, keep,
                   resp.getheader("Content-Length")
                   if self.command == "HEAD" else None)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", type=int, required=True,
                   help="port of the S3 server on 127.0.0.1")
    p.add_argument("--key", default="S3RVER")
    p.add_argument("--secret", default="S3RVER")
    p.add_argument("--log", required=True)
    p.add_argument("--fail", type=int, default=0)
    p.add_argument("--fail-kind", default="503",
                   choices=["503", "500", "reset"])
    p.add_argument("--fail-match", default=".")
    p.add_argument("--hold-file", default=None)
    p.add_argument("--deny-match", default=None)
    ARGS = p.parse_args()
    FAULTS["left"] = ARGS.fail
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print("listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
