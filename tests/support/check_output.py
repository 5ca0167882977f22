"""Checks what the end-to-end tests saw spate write (collected by
e2e_note_output into one file): every error record line must parse with
json.loads as an object holding spate_error, and every line on stderr
must be valid UTF-8 (and parse with json.loads when it is a JSON log line);
every stderr line of a run under --log-format json must be a JSON log
line: an object with ts, level and msg.  Runs after all end-to-end tests (a ctest fixture cleanup)."""
import json
import sys


def main(path):
    try:
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
    except FileNotFoundError:
        lines = []
    bad = []
    records = logs = 0
    for line in lines:
        if not line:
            continue
        kind, text = line[:2], line[2:]
        try:
            if kind == b"R ":
                records += 1
                obj = json.loads(text)
                if not isinstance(obj, dict) or not any(
                        "spate_error" in str(k) for k in obj):
                    bad.append((text, "not an object with spate_error"))
            elif kind == b"J ":
                logs += 1
                obj = json.loads(text.decode("utf-8"))
                if not isinstance(obj, dict) or not all(
                        k in obj for k in ("ts", "level", "msg")):
                    bad.append((text, "not a JSON log line"))
            else:
                logs += 1
                text.decode("utf-8")
                if text.startswith(b'{"'):
                    json.loads(text)
        except (ValueError, UnicodeDecodeError) as e:
            bad.append((text, str(e)))
    print(f"check_output: {records} error record lines, {logs} log lines")
    for text, why in bad[:20]:
        print(f"check_output: {why}: {text[:300]!r}")
    if bad:
        print(f"check_output: {len(bad)} bad lines")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
