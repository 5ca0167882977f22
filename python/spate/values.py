"""Stage option values between Python and spate's configuration text.

spate keeps a stage's options as YAML nodes: scalars as text, lists and
maps as flow-style YAML ("[/a, /b]", "{/user: /user_name}").  Python values
go in as JSON (a subset of flow YAML) or plain text and come back typed by
the option's type from the stage type's option table.
"""
import json
import re

_INT = re.compile(r"[-+]?[0-9]+\Z")
_FLOAT = re.compile(r"[-+]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?\Z")
_TRUE = {"true", "yes", "on"}
_FALSE = {"false", "no", "off"}


def to_text(value):
    """The configuration text of a Python value (None: unset)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False)
    text = str(value)
    if text[:1] in ("[", "{") or (len(text) >= 2 and text[0] == '"' and
                                  text[-1] == '"'):
        return json.dumps(text, ensure_ascii=False)
    return text


def scalar(text, otype=None):
    """A scalar's text as the Python value its option type says."""
    if otype in ("int", "size") and _INT.match(text):
        return int(text)
    if otype == "double" and _FLOAT.match(text):
        return float(text)
    if otype == "bool" and text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    if otype is not None:
        return text
    return _plain(text)


def _plain(text):
    low = text.lower()
    if low in ("null", "~", ""):
        return None
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return text


def from_text(text, otype=None):
    """The Python value of an option's text: lists and maps parsed."""
    if text is None:
        return None
    if text[:1] in ("[", "{"):
        value, end = _Parser(text).node(0)
        return value
    if otype in ("string list", "object list", "map", "path list",
                 "path map"):
        return _Parser(text).node(0)[0]
    return scalar(text, otype)


class _Parser:
    """Flow-style YAML as spate writes it: [a, b], {k: v}, quoted and plain
    scalars.  Plain scalars in collections are typed (numbers, booleans)."""

    def __init__(self, text):
        self.t = text

    def ws(self, i):
        while i < len(self.t) and self.t[i] in " \t\n":
            i += 1
        return i

    def node(self, i):
        i = self.ws(i)
        c = self.t[i:i + 1]
        if c == "[":
            return self.seq(i + 1)
        if c == "{":
            return self.map(i + 1)
        if c in ("'", '"'):
            return self.quoted(i)
        return self.plain(i)

    def seq(self, i):
        out = []
        i = self.ws(i)
        while i < len(self.t) and self.t[i] != "]":
            v, i = self.node(i)
            out.append(v)
            i = self.ws(i)
            if i < len(self.t) and self.t[i] == ",":
                i = self.ws(i + 1)
        return out, i + 1

    def map(self, i):
        out = {}
        i = self.ws(i)
        while i < len(self.t) and self.t[i] != "}":
            k, i = self.node(i)
            i = self.ws(i)
            if i < len(self.t) and self.t[i] == ":":
                v, i = self.node(i + 1)
            else:
                v = None
            out[k if isinstance(k, str) else str(k)] = v
            i = self.ws(i)
            if i < len(self.t) and self.t[i] == ",":
                i = self.ws(i + 1)
        return out, i + 1

    def quoted(self, i):
        q = self.t[i]
        j = i + 1
        buf = []
        while j < len(self.t):
            c = self.t[j]
            if q == "'" and c == "'":
                if self.t[j + 1:j + 2] == "'":
                    buf.append("'")
                    j += 2
                    continue
                return "".join(buf), j + 1
            if q == '"' and c == "\\":
                buf.append(self.escape(j))
                j += 2 if self.t[j + 1] not in "xuU" else \
                    {"x": 4, "u": 6, "U": 10}[self.t[j + 1]]
                continue
            if q == '"' and c == '"':
                return "".join(buf), j + 1
            buf.append(c)
            j += 1
        return "".join(buf), j

    def escape(self, j):
        c = self.t[j + 1]
        simple = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\",
                  "/": "/", "0": "\0"}
        if c in simple:
            return simple[c]
        width = {"x": 2, "u": 4, "U": 8}[c]
        return chr(int(self.t[j + 2:j + 2 + width], 16))

    def plain(self, i):
        j = i
        depth = 0
        while j < len(self.t):
            c = self.t[j]
            if c in "[{":
                depth += 1
            elif c in "]}":
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and (c == "," or
                                 (c == ":" and self.t[j + 1:j + 2] in
                                  (" ", ""))):
                break
            j += 1
        return _plain(self.t[i:j].strip()), j
