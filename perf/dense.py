"""Field-dense inputs for perf/run (W6-W8), shaped like real exports.

W6 films: JSON lines with 18 short fields (ints, decimals, nulls,
booleans, short strings, keys with spaces).  W7 orders: JSON lines with
nested objects and arrays, non-ASCII text written raw and as \\uXXXX
escapes (surrogate pairs included), and \\" \\\\ \\t in strings.  W8
incidents: CSV with 15 short columns, quoted fields holding the
delimiter and doubled quotes, empty cells, typed by a schema (int,
double, timestamp) and written back as CSV.

Each generator is seeded and writes one file; each expected_* function
reads the input with Python's own json or csv module and says what the
W1-shaped job (a field removed, one renamed in place, a two-lane
selector whose lanes overlap, and the default lane) makes of every
record: id -> (lanes, record).  perf/run compares spate's output with it
record by record.
"""

import csv
import datetime
import decimal
import json
import random

VERSION = 1  # bump when a generated input changes shape

WORDS = ("red harbor silent night river glass iron summer paper moon "
         "city fox garden winter quiet storm gold north last blue road "
         "house empire dream").split()
GENRES = ("drama comedy thriller horror documentary animation western "
          "romance sci-fi crime").split()
LANGS = ("en fr de es it ja ko pt sv hi").split()
COUNTRIES = ("US GB FR DE ES IT JP KR BR SE IN CH").split()
STUDIOS = ("Northlight", "Blue Road Pictures", "Iron & Glass",
           "Moon Harbor", "Studio 7")
NAMES = ("Zoë Ångström", "José Núñez", "Łukasz Żółw", "Søren Kierkegård",
         "Anaïs Dubois", "Björn Ülkü", "Chloé Ĳssel", "李小龙", "Дмитрий Иванов",
         "Ana María", "O'Brien", "Sam \"Ace\" Lee")
CITIES = ("Zürich", "München", "São Paulo", "Kraków", "Malmö", "Reykjavík",
          "東京", "Αθήνα", "Lyon", "Boston")
SKUS = ("A-12", "B-7", "C-330", "D-9", "E-41")
NOTES = ("gift wrap", "leave at door\tback", "call \"before\" delivery",
         "path C:\\orders\\in", "fragile ✓", "naïve café ☕", "😀 thanks",
         "", "2nd floor")
CATEGORIES = ("network", "power", "software", "hardware", "security",
              "facility")
STATUSES = ("open", "closed", "pending", "escalated")
SITES = ("Plant 4", "Depot, North", "HQ \"Tower\"", "Lab 2", "Yard, East 9",
         "Office")


def _words(r, lo, hi):
    return " ".join(r.choice(WORDS) for _ in range(r.randint(lo, hi)))


def _dec(r, lo, hi, places):
    return decimal.Decimal(r.randint(lo * 10 ** places, hi * 10 ** places)) \
        .scaleb(-places)


def _write_lines(path, records, gen):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        buf = []
        for i in range(1, records + 1):
            buf.append(gen(i))
            if len(buf) == 4096:
                f.write("".join(buf))
                buf = []
        f.write("".join(buf))


def _num(d):
    """A decimal as JSON number text."""
    return str(d)


# ---- W6 films ------------------------------------------------------------

W6_REMOVE, W6_RENAME = "imdb id", ("director", "directed by")


def gen_films(path, records, seed):
    r = random.Random(seed * 7919 + 6)

    def one(i):
        m = r.random()
        parts = [
            '"id":%d' % i,
            '"title":%s' % json.dumps(_words(r, 1, 3).title()),
            '"year":%d' % r.randint(1950, 2024),
            '"rating":%s' % _num(_dec(r, 1, 9, 1)),
            '"votes":%d' % r.randint(0, 2000000),
            '"runtime min":%s' % ("null" if m < 0.1 else r.randint(60, 200)),
            '"genre":"%s"' % r.choice(GENRES),
            '"lang":"%s"' % r.choice(LANGS),
            '"country":"%s"' % r.choice(COUNTRIES),
            '"budget usd":%s' % ("null" if m < 0.3 else
                                 r.randint(10000, 300000000)),
            '"gross usd":%s' % ("null" if m < 0.4 else
                                _num(_dec(r, 0, 900000000, 2))),
            '"color":%s' % ("true" if r.random() < 0.9 else "false"),
            '"adult":%s' % ("true" if r.random() < 0.02 else "false"),
            '"director":%s' % json.dumps(_words(r, 2, 2).title()),
            '"release date":"%04d-%02d-%02d"' % (r.randint(1950, 2024),
                                                 r.randint(1, 12),
                                                 r.randint(1, 28)),
            '"studio":%s' % ("null" if m > 0.8 else
                             json.dumps(r.choice(STUDIOS))),
            '"score":%s' % _num(_dec(r, 0, 1, 3)),
            '"imdb id":"tt%07d"' % r.randint(1, 9999999),
        ]
        return "{" + ",".join(parts) + "}\n"

    _write_lines(path, records, one)


def _lanes(rec, preds):
    lanes = [name for name, pred in preds if pred(rec)]
    return lanes or ["rest"]  # the default lane's writer


def _edit(pairs, remove, rename):
    return [(rename[1] if k == rename[0] else k, v)
            for k, v in pairs if k != remove]


def _ge(v, x):
    return v is not None and not isinstance(v, bool) and v >= x


W6_LANES = (("top", lambda rec: _ge(rec["rating"], 7)),
            ("recent", lambda rec: _ge(rec["year"], 2010)))
W7_LANES = (("big", lambda rec: _ge(rec["total"], 300)),
            ("many", lambda rec: _ge(rec["item count"], 3)))


def _expected_jsonl(path, remove, rename, preds):
    out = {}
    with open(path, "rb") as f:
        for line in f:
            pairs = json.loads(line, parse_float=decimal.Decimal,
                               object_pairs_hook=list)
            rec = dict(pairs)
            out[rec["id"]] = (_lanes(rec, preds),
                              _edit(pairs, remove, rename))
    return out


def expected_films(path):
    return _expected_jsonl(path, W6_REMOVE, W6_RENAME, W6_LANES)


def read_jsonl_record(line):
    pairs = json.loads(line, parse_float=decimal.Decimal,
                       object_pairs_hook=list)
    return dict(pairs)["id"], pairs


# ---- W7 orders -----------------------------------------------------------

W7_REMOVE, W7_RENAME = "coupon", ("order no", "order number")


def gen_orders(path, records, seed):
    r = random.Random(seed * 7919 + 7)

    def one(i):
        items = []
        total = decimal.Decimal(0)
        for _ in range(r.randint(1, 4)):
            qty = r.randint(1, 5)
            price = _dec(r, 1, 250, 2)
            total += qty * price
            item = {"sku": r.choice(SKUS), "qty": qty, "price": float(price)}
            if r.random() < 0.3:
                item["note"] = r.choice(NOTES)
            items.append(item)
        name = r.choice(NAMES)
        city = r.choice(CITIES)
        rec = {
            "id": i,
            "order no": "ORD-%07d" % i,
            "customer": {"name": name,
                         "email": "user%d@example.com" % r.randint(1, 99999),
                         "address": {"city": city,
                                     "zip": "%05d" % r.randint(0, 99999),
                                     "country": r.choice(COUNTRIES)}},
            "items": items,
            "item count": len(items),
            "total": float(total),
            "currency": r.choice(("EUR", "USD", "CHF", "JPY")),
            "paid": r.random() < 0.8,
            "coupon": None if r.random() < 0.7 else "SAVE%d" % r.randint(
                5, 30),
            "notes": r.choice(NOTES),
            "tags": r.sample(("gift", "express", "b2b", "fragile",
                              "return"), r.randint(0, 3)),
        }
        # floats of two-place decimals print as those decimals
        text = json.dumps(rec, ensure_ascii=False, separators=(",", ":"))
        # the same kind of text again, as \\u escapes
        esc = {"name": r.choice(NAMES), "city": r.choice(CITIES),
               "note": r.choice(NOTES)}
        return text[:-1] + ',"ship to":' + json.dumps(
            esc, separators=(",", ":")) + "}\n"

    _write_lines(path, records, one)


def expected_orders(path):
    return _expected_jsonl(path, W7_REMOVE, W7_RENAME, W7_LANES)


# ---- W8 incidents (CSV) --------------------------------------------------

W8_COLUMNS = ("id", "opened", "closed", "severity", "category", "site name",
              "lat", "lon", "cost", "reporter", "status", "description",
              "tags", "asset", "priority")
W8_REMOVE, W8_RENAME = "reporter", ("site name", "site")
W8_INTS = ("id", "severity", "priority")
W8_DOUBLES = ("lat", "lon", "cost")
W8_TIMES = ("opened", "closed")
W8_LANES = (("severe", lambda rec: _ge(rec["severity"], 4)),
            ("costly", lambda rec: _ge(rec["cost"], 5000)))


def _stamp(r):
    t = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc) + \
        datetime.timedelta(seconds=r.randint(0, 365 * 86400))
    if r.random() < 0.25:
        off = datetime.timezone(datetime.timedelta(
            minutes=r.choice((-300, 60, 120, 330))))
        return t.astimezone(off).isoformat()
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def gen_incidents(path, records, seed):
    r = random.Random(seed * 7919 + 8)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(W8_COLUMNS)
        for i in range(1, records + 1):
            m = r.random()
            desc = _words(r, 1, 4)
            if m < 0.2:
                desc = 'said "%s", then left' % desc
            w.writerow([
                i, _stamp(r), "" if m < 0.3 else _stamp(r),
                "" if m > 0.9 else r.randint(1, 5), r.choice(CATEGORIES),
                r.choice(SITES), _dec(r, -90, 89, 4), _dec(r, -180, 179, 4),
                "" if m < 0.15 else _dec(r, 0, 20000, 2),
                _words(r, 1, 1), r.choice(STATUSES), desc,
                "|".join(r.sample(("urgent", "ops", "it", "night"),
                                  r.randint(0, 2))),
                "AS-%05d" % r.randint(0, 99999), r.randint(1, 3)])


def _utc(text):
    t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _typed(row):
    """A CSV row as the schema types it: ints, decimals (None when empty),
    timestamps as UTC text."""
    rec = {}
    for k, v in row.items():
        if k in W8_INTS:
            v = int(v) if v else None
        elif k in W8_DOUBLES:
            v = decimal.Decimal(v) if v else None
        elif k in W8_TIMES:
            v = _utc(v) if v else None
        rec[k] = v
    return rec


def expected_incidents(path):
    out = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rec = _typed(row)
            pairs = _edit(list(rec.items()), W8_REMOVE, W8_RENAME)
            out[rec["id"]] = (_lanes(rec, W8_LANES), pairs)
    return out


def read_csv_records(text_lines):
    """spate's CSV output, typed the same way: (id, pairs) per row."""
    for row in csv.DictReader(text_lines):
        rec = _typed(row)
        yield rec["id"], list(rec.items())
