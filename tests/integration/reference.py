"""Reference implementation of minispark's query semantics (CSV reading,
type inference, malformed-record modes, filters, group keys, aggregates,
ordering and the output CSV), written for clarity rather than speed.

It is deliberately independent of the engine: one pass over the whole file in
file order, exact integers for decimals, no partitioning. The integration
tests compare the engine's --output file with `expected_csv(job)` byte for
byte. Everything is bytes, because strings compare bytewise.
"""

import datetime
import functools
import json
import os
import re
from fractions import Fraction

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

INT_RE = re.compile(rb"[+-]?[0-9]+")
DEC_RE = re.compile(rb"([+-]?)([0-9]+)?(?:\.([0-9]*))?")
DBL_RE = re.compile(rb"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
DBL_SPECIAL = (b"NaN", b"Infinity", b"-Infinity", b"+Infinity")
TS_RE = re.compile(
    rb"([0-9]{4})-([0-9]{2})-([0-9]{2})(?: ([0-9]{2}):([0-9]{2}):([0-9]{2}))?")

EPOCH = datetime.datetime(1970, 1, 1)

# Column types: ("int",), ("dec", scale), ("dbl",), ("ts",), ("str",)
# and ("any",) for the columns of an empty file, which only ever hold NULL.
INT, DBL, TS, STR, ANY = ("int",), ("dbl",), ("ts",), ("str",), ("any",)


def DEC(scale):
    return ("dec", scale)


class ReferenceError_(Exception):
    """The job is outside what the reference (and the test) should ask."""


# ---------------------------------------------------------------- tokenising

def tokenize(line, delim, quote):
    """Splits one record (bytes, no line terminator) into a list of bytes
    fields (quotes removed), or returns None when it cannot be tokenised."""
    fields = []
    i, n = 0, len(line)
    while True:
        if quote is not None and i < n and line[i] == quote:
            parts, j = [], i + 1
            while True:
                k = line.find(bytes([quote]), j)
                if k < 0:
                    return None  # the line ends inside quotes
                if k + 1 < n and line[k + 1] == quote:
                    parts.append(line[j:k + 1])
                    j = k + 2
                    continue
                parts.append(line[j:k])
                i = k + 1
                break
            fields.append(b"".join(parts))
            if i == n:
                return fields
            if line[i] != delim:
                return None  # text after the closing quote
            i += 1
        else:
            k = line.find(bytes([delim]), i)
            if k < 0:
                fields.append(line[i:])
                return fields
            fields.append(line[i:k])
            i = k + 1


def split_lines(data):
    """Yields (1-based line number, line) for every non-blank line: lines end
    in b"\\n" (the last one may not), one trailing b"\\r" is stripped."""
    lineno = 0
    pos, n = 0, len(data)
    while pos < n:
        end = data.find(b"\n", pos)
        if end < 0:
            end = n
        line = data[pos:end]
        pos = end + 1
        lineno += 1
        if line.endswith(b"\r"):
            line = line[:-1]
        if line:
            yield lineno, line


_file_cache = {}


def load_csv(path, delimiter=",", quote='"', header=True):
    """Returns (names, records); a record is (lineno, fields or None)."""
    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size, delimiter, quote, header)
    if key in _file_cache:
        return _file_cache[key]
    with open(path, "rb") as f:
        data = f.read()
    delim = delimiter.encode()[0]
    q = quote.encode()[0] if quote else None
    records = [(ln, tokenize(line, delim, q))
               for ln, line in split_lines(data)]
    names = None
    if header and records:
        fields = records[0][1]
        if fields is None:
            raise ReferenceError_("malformed header line")
        names = [x.decode() for x in fields]
        records = records[1:]
    elif records:
        first = next((f for _, f in records if f is not None), None)
        names = ["_c%d" % i for i in range(len(first or []))]
    else:
        names = []
    if len(_file_cache) >= 8:
        _file_cache.clear()
    _file_cache[key] = (names, records)
    return names, records


# ------------------------------------------------------------------- parsing

def parse_int(b):
    if not INT_RE.fullmatch(b):
        return None
    v = int(b)
    return v if INT64_MIN <= v <= INT64_MAX else None


def _dec_parts(b):
    """(sign, int digits, fraction digits) of decimal syntax, or None."""
    m = DEC_RE.fullmatch(b)
    if not m or (m.group(2) is None and not m.group(3)):
        return None
    return m.group(1), m.group(2) or b"", m.group(3) or b""


def parse_decimal(b, scale):
    """Unscaled int at `scale`, or None (too many fraction digits included)."""
    parts = _dec_parts(b)
    if parts is None:
        return None
    sign, ip, fp = parts
    if len(fp) > scale:
        return None
    frac = (fp + b"0" * scale)[:scale] or b"0"
    v = int(ip or b"0") * 10 ** scale + int(frac)
    if sign == b"-":
        v = -v
    return v if INT64_MIN <= v <= INT64_MAX else None


def parse_double(b):
    if b in DBL_SPECIAL or DBL_RE.fullmatch(b):
        return float(b)
    return None


def parse_timestamp(b):
    m = TS_RE.fullmatch(b)
    if not m:
        return None
    g = [int(x) if x is not None else 0 for x in m.groups()]
    try:
        dt = datetime.datetime(*g)
    except ValueError:
        return None
    return int((dt - EPOCH).total_seconds())


def parse_value(b, ctype):
    """Parses field bytes as ctype; returns (ok, value)."""
    kind = ctype[0]
    if kind == "int":
        v = parse_int(b)
    elif kind == "dec":
        v = parse_decimal(b, ctype[1])
    elif kind == "dbl":
        v = parse_double(b)
    elif kind == "ts":
        v = parse_timestamp(b)
    else:
        v = b
    return v is not None, v


# ----------------------------------------------------------------- inference

def _decimal_type(voters):
    parts = [_dec_parts(v) for v in voters]
    if any(p is None for p in parts):
        return None
    scale = max(len(p[2]) for p in parts)
    if scale > 9:
        return None
    for _, ip, _ in parts:
        if len(ip.lstrip(b"0")) + scale > 18:
            return None
    return DEC(scale)


_infer_cache = {}


def infer_types(names, records, sample_rows, infer=True):
    if not infer:
        return [STR] * len(names)
    key = (id(records), sample_rows)
    hit = _infer_cache.get(key)
    if hit is not None and hit[0] is records:
        return list(hit[1])
    types = _infer_types(names, records, sample_rows)
    _infer_cache[key] = (records, types)
    return list(types)


def _infer_types(names, records, sample_rows):
    sample = []
    for _, fields in records:
        if len(sample) >= sample_rows:
            break
        if fields is not None:
            sample.append(fields)
    types = []
    for c in range(len(names)):
        voters = [f[c] for f in sample if c < len(f) and f[c] != b""]
        types.append(_infer_one(voters))
    return types


def _infer_one(voters):
    if not voters:
        return STR
    if all(parse_int(v) is not None for v in voters):
        return INT
    dec = _decimal_type(voters)
    if dec is not None:
        return dec
    if all(parse_double(v) is not None for v in voters):
        return DBL
    if all(parse_timestamp(v) is not None for v in voters):
        return TS
    return STR


# ---------------------------------------------------------------- formatting

def fmt_decimal(unscaled, scale):
    sign = "-" if unscaled < 0 else ""
    a = abs(unscaled)
    if scale == 0:
        return sign + str(a)
    ip, fp = divmod(a, 10 ** scale)
    return "%s%d.%0*d" % (sign, ip, scale, fp)


def fmt_double(d):
    if d != d:
        return "NaN"
    if d == float("inf"):
        return "Infinity"
    if d == float("-inf"):
        return "-Infinity"
    return repr(d)


def fmt_timestamp(secs):
    dt = EPOCH + datetime.timedelta(seconds=secs)
    return dt.strftime("%Y-%m-%d %H:%M:%S")


def csv_field(b):
    if any(c in b for c in (b",", b'"', b"\r", b"\n")):
        return b'"' + b.replace(b'"', b'""') + b'"'
    return b


def fmt_value(v, ctype):
    if v is None:
        return b""
    kind = ctype[0]
    if kind == "int":
        return str(v).encode()
    if kind == "dec":
        return fmt_decimal(v, ctype[1]).encode()
    if kind == "dbl":
        return fmt_double(v).encode()
    if kind == "ts":
        return fmt_timestamp(v).encode()
    return csv_field(v)


# ------------------------------------------------------------------- filters

def _literal_text(lit):
    """JSON literal as the text the engine sees: json.dumps of the value."""
    if isinstance(lit, str):
        return lit.encode()
    if isinstance(lit, bool) or lit is None:
        raise ReferenceError_("bool/null literals are not modelled")
    return json.dumps(lit).encode()


def _convert_literal(lit, ctype):
    """The literal as a value of ctype, in a form comparable with values."""
    text = _literal_text(lit)
    kind = ctype[0]
    if kind in ("int", "dec"):
        if isinstance(lit, str):
            ok, v = parse_value(text, ctype)
            if not ok:
                raise ReferenceError_("literal %r does not convert" % lit)
            return Fraction(v, 10 ** ctype[1] if kind == "dec" else 1)
        return Fraction(text.decode())
    if kind == "dbl":
        v = parse_double(text)
        if v is None:
            raise ReferenceError_("literal %r is not a double" % lit)
        return v
    if kind == "ts":
        v = parse_timestamp(text)
        if v is None:
            raise ReferenceError_("literal %r is not a timestamp" % lit)
        return v
    return text


def _comparable(v, ctype):
    if v is None:
        return None
    if ctype[0] == "dec":
        return Fraction(v, 10 ** ctype[1])
    return v


_CMP = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _make_filter(spec, col, ctype):
    op = spec["op"]
    if op == "is_null":
        return lambda row: row[col] is None
    if op == "not_null":
        return lambda row: row[col] is not None
    if op == "in":
        lits = [_convert_literal(x, ctype) for x in spec["values"]]
        return lambda row: (row[col] is not None
                            and any(_comparable(row[col], ctype) == x
                                    for x in lits))
    lit = _convert_literal(spec["value"], ctype)
    fn = _CMP[op]
    return lambda row: (row[col] is not None
                        and fn(_comparable(row[col], ctype), lit))


# ---------------------------------------------------------------- group keys

def _trunc(secs, unit):
    if unit == "hour":
        return secs - secs % 3600
    if unit == "day":
        return secs - secs % 86400
    dt = EPOCH + datetime.timedelta(seconds=secs)
    return int((datetime.datetime(dt.year, dt.month, 1) - EPOCH)
               .total_seconds())


def _c_mod(v, n):
    """C/Java remainder: the sign of the dividend."""
    r = abs(v) % n
    return -r if v < 0 else r


def _make_key(spec, index, types):
    """Returns (output name, output type, fn(row) -> key value)."""
    if isinstance(spec, str):
        col = index[spec]
        return spec, types[col], lambda row: row[col]
    col = index[spec["column"]]
    cname = spec["column"]
    if "trunc" in spec:
        unit = spec["trunc"]
        name = spec.get("as", "date_trunc(%s, %s)" % (unit, cname))
        return name, TS, lambda row: (None if row[col] is None
                                      else _trunc(row[col], unit))
    n = spec["mod"]
    name = spec.get("as", "(%s %% %d)" % (cname, n))
    return name, INT, lambda row: (None if row[col] is None
                                   else _c_mod(row[col], n))


# ---------------------------------------------------------------- aggregates

_DEFAULT_NAME = {
    "count": "count(%s)", "sum": "sum(%s)", "min": "min(%s)",
    "max": "max(%s)", "avg": "avg(%s)", "count_distinct": "count(DISTINCT %s)",
}


class _Agg:
    def __init__(self, spec, index, types):
        self.fn = spec["fn"]
        cname = spec.get("column")
        if self.fn == "count" and cname is None:
            self.col, self.ctype = None, None
            self.name = spec.get("as", "count(1)")
        else:
            self.col = index[cname]
            self.ctype = types[self.col]
            self.name = spec.get("as", _DEFAULT_NAME[self.fn] % cname)
        self.out_type = self._out_type()

    def _out_type(self):
        fn, t = self.fn, self.ctype
        if fn in ("count", "count_distinct"):
            return INT
        if fn in ("min", "max") or t == ANY:
            return t
        if fn == "sum":
            if t[0] in ("int", "dec", "dbl"):
                return t
        if fn == "avg":
            if t[0] in ("int", "dbl"):
                return DBL
            if t[0] == "dec":
                return DEC(min(t[1] + 4, 9))
        raise ReferenceError_("%s of a %s column" % (fn, t[0]))

    def result(self, rows):
        if self.col is None:
            return len(rows)
        vals = [r[self.col] for r in rows if r[self.col] is not None]
        fn = self.fn
        if fn == "count":
            return len(vals)
        if fn == "count_distinct":
            return len(set(vals))
        if not vals:
            return None
        if fn == "min":
            return min(vals)
        if fn == "max":
            return max(vals)
        kind = self.ctype[0]
        if fn == "sum":
            if kind == "dbl":
                s = 0.0
                for v in vals:
                    s += v
                return s
            return sum(vals)
        # avg
        if kind == "dbl":
            s = 0.0
            for v in vals:
                s += v
            return s / len(vals)
        if kind == "int":
            return float(sum(vals)) / len(vals)
        scale, out_scale = self.ctype[1], self.out_type[1]
        num = sum(vals) * 10 ** (out_scale - scale)
        q, r = divmod(abs(num), len(vals))
        if 2 * r >= len(vals):
            q += 1  # ROUND_HALF_UP: ties away from zero
        return -q if num < 0 else q


# ------------------------------------------------------------------ ordering

def _cmp_values(a, b):
    """Ascending with NULLs first."""
    if a is None or b is None:
        return (a is not None) - (b is not None)
    return (a > b) - (a < b)


def _sort(rows, order, names):
    idx = {n: i for i, n in enumerate(names)}
    order_cols = [(idx[o["column"]], bool(o.get("desc", False)))
                  for o in order]

    def cmp(r1, r2):
        for c, desc in order_cols:
            a, b = r1[c], r2[c]
            if desc:
                if a is None or b is None:
                    d = (a is None) - (b is None)  # NULLs last
                else:
                    d = (b > a) - (b < a)
            else:
                d = _cmp_values(a, b)
            if d:
                return d
        for c in range(len(names)):
            d = _cmp_values(r1[c], r2[c])
            if d:
                return d
        return 0

    return sorted(rows, key=functools.cmp_to_key(cmp))


# ----------------------------------------------------------------- the query

def _referenced(query):
    cols = []
    for f in query.get("filter", []):
        cols.append(f["column"])
    for k in query["group_by"]:
        cols.append(k if isinstance(k, str) else k["column"])
    for a in query["aggregates"]:
        if a.get("column") is not None:
            cols.append(a["column"])
    return cols


def _scan(job, conf):
    """Reads the input: (names, types, index, [(lineno, row, malformed)]). A
    row holds the parsed values of the referenced columns (others None)."""
    inp = job["input"]
    names, records = load_csv(inp["path"], inp.get("delimiter", ","),
                              inp.get("quote", '"'), inp.get("header", True))
    sample = int(conf.get("minispark.csv.sampleRows", 20000))
    types = infer_types(names, records, sample, inp.get("infer_schema", True))
    query = job["query"]
    if not names and not records:  # an empty file accepts every column name
        names = list(dict.fromkeys(_referenced(query)))
        types = [ANY] * len(names)
    index = {n: i for i, n in enumerate(names)}
    refs = sorted({index[c] for c in _referenced(query)})
    ncols = len(names)
    columns = {c: _parsed_column(records, c, types[c]) for c in refs}
    scanned = []
    for r, (lineno, fields) in enumerate(records):
        row = [None] * ncols
        bad = fields is None or len(fields) != ncols
        for c in refs:
            ok, v = columns[c][r]
            row[c] = v
            bad = bad or not ok
        scanned.append((lineno, row, bad))
    return names, types, index, scanned


_column_cache = {}


def _parsed_column(records, c, ctype):
    """[(ok, value)] of column c in every record (memoised: the tests ask
    many queries of one file)."""
    key = (id(records), c, ctype)
    hit = _column_cache.get(key)
    if hit is not None and hit[0] is records:
        return hit[1]
    out = []
    for _, fields in records:
        if fields is None or c >= len(fields) or fields[c] == b"":
            out.append((True, None))
        else:
            out.append(parse_value(fields[c], ctype))
    if len(_column_cache) >= 64:
        _column_cache.clear()
    _column_cache[key] = (records, out)
    return out


class Failfast(Exception):
    def __init__(self, path, lineno):
        super().__init__("%s:%d" % (path, lineno))
        self.path, self.lineno = path, lineno


def malformed_lines(job, conf=None):
    """Line numbers of every malformed record, whatever the job's mode."""
    conf = dict(job.get("conf", {}), **(conf or {}))
    return [ln for ln, _, bad in _scan(job, conf)[3] if bad]


def _rows(job, conf):
    """Applies the CSV mode; raises Failfast in FAILFAST mode."""
    names, types, index, scanned = _scan(job, conf)
    mode = job["input"].get("mode", "PERMISSIVE")
    rows = []
    for lineno, row, bad in scanned:
        if bad and mode == "FAILFAST":
            raise Failfast(job["input"]["path"], lineno)
        if bad and mode == "DROPMALFORMED":
            continue
        rows.append(row)
    return names, types, index, rows


def evaluate(job, conf=None):
    """Returns (output names, output types, rows of values)."""
    conf = dict(job.get("conf", {}), **(conf or {}))
    query = job["query"]
    names, types, index, rows = _rows(job, conf)
    for f in query.get("filter", []):
        c = index[f["column"]]
        pred = _make_filter(f, c, types[c])
        rows = [r for r in rows if pred(r)]
    keys = [_make_key(k, index, types) for k in query["group_by"]]
    aggs = [_Agg(a, index, types) for a in query["aggregates"]]
    groups = {}
    for r in rows:
        k = tuple(fn(r) for _, _, fn in keys)
        groups.setdefault(k, []).append(r)
    if not keys and not groups:
        groups[()] = []
    out = [list(k) + [a.result(g) for a in aggs] for k, g in groups.items()]
    out_names = [n for n, _, _ in keys] + [a.name for a in aggs]
    out_types = [t for _, t, _ in keys] + [a.out_type for a in aggs]
    out = _sort(out, query.get("order_by", []), out_names)
    limit = query.get("limit")
    if limit is not None and limit >= 0:
        out = out[:limit]
    return out_names, out_types, out


_expected_cache = {}


def expected_csv(job, conf=None):
    """The engine's output CSV for job, as bytes."""
    allconf = dict(job.get("conf", {}), **(conf or {}))
    path = job["input"]["path"]
    st = os.stat(path) if os.path.exists(path) else None
    key = json.dumps([job["input"], job["query"],
                      allconf.get("minispark.csv.sampleRows"),
                      st and (st.st_mtime_ns, st.st_size)], sort_keys=True)
    if key not in _expected_cache:
        _expected_cache[key] = _expected_csv(job, conf)
    return _expected_cache[key]


def _expected_csv(job, conf):
    names, types, rows = evaluate(job, conf)
    lines = [b",".join(csv_field(n.encode()) for n in names)]
    for r in rows:
        lines.append(b",".join(fmt_value(v, t) for v, t in zip(r, types)))
    return b"".join(line + b"\n" for line in lines)


if __name__ == "__main__":
    import sys
    with open(sys.argv[1]) as f:
        j = json.load(f)
    sys.stdout.buffer.write(expected_csv(j))
