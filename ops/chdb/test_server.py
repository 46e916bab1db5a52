#!/usr/bin/env python3
"""Tests of ops/chdb/server.py through real HTTP requests shaped as the Rust `clickhouse` crate
0.15.3 shapes them (see README.md, "What the client sends"). Runs with the venv's python from
ops/chdb/setup; uses the standard library, and chdb only inside the server it starts.

    "$(ops/chdb/setup)" ops/chdb/test_server.py [-v]

Exits non-zero on any failure; the last line is 'N passed, N failed'.
"""

import http.client
import json
import math
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # leave no __pycache__ in the repository
import server as adapter  # noqa: E402  (the codec helpers; the server itself runs in a child)

VERBOSE = "-v" in sys.argv
USER_AGENT = "clickhouse-rs/0.15.3 (lv:rust/1.85.0; os:linux)"


# ---------------------------------------------------------------------------------------------
# A client that sends what the crate sends.


class CrateShapedClient:
    """Mirrors clickhouse 0.15.3 with `.with_user("default").with_validation(false)` and the
    `lz4` feature (compression Lz4 by default):
      * query/execute: POST /?[default_format=RowBinary&][database=DB&]<settings>, the SQL as the
        body with Content-Length, `Accept-Encoding: lz4`, `X-ClickHouse-User`;
      * insert: POST /?[database=DB&]query=INSERT INTO `t`(`a`,`b`) FORMAT RowBinary&decompress=1,
        the rows as ClickHouse LZ4 compressed blocks in a chunked body (one block per flush)."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def _connection(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        return self.conn

    def request(self, path, body, headers, chunked=False):
        conn = self._connection()
        try:
            conn.request("POST", path, body=body, headers=headers, encode_chunked=chunked)
            response = conn.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            conn.close()
            self.conn = None
            raise
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            self.conn = None
        return response.status, dict(response.getheaders()), data

    def query(self, sql, database=None, fetch_format=None, settings=None):
        pairs = []
        if fetch_format:
            pairs.append(("default_format", fetch_format))
        if database:
            pairs.append(("database", database))
        pairs += list((settings or {}).items())
        body = sql.encode()
        headers = {"Accept-Encoding": "lz4", "User-Agent": USER_AGENT, "X-ClickHouse-User": "default",
                   "Content-Length": str(len(body))}
        return self.request("/?" + urllib.parse.urlencode(pairs), body, headers)

    def insert(self, table, columns, rows, database=None, compress=True, flush_bytes=256 * 1024,
               corrupt=False):
        sql = "INSERT INTO %s(%s) FORMAT RowBinary" % (quote(table), ",".join(quote(c) for c in columns))
        pairs = []
        if database:
            pairs.append(("database", database))
        pairs.append(("query", sql))
        if compress:
            pairs.append(("decompress", "1"))
        chunks = []
        buffer = b""
        for row in rows:
            buffer += row
            if len(buffer) >= flush_bytes - 2048:
                chunks.append(buffer)
                buffer = b""
        if buffer:
            chunks.append(buffer)
        if compress:
            chunks = [adapter.compress_block(chunk) for chunk in chunks]
        if corrupt:
            broken = bytearray(chunks[-1])
            broken[-1] ^= 0x55
            chunks[-1] = bytes(broken)
        headers = {"User-Agent": USER_AGENT, "X-ClickHouse-User": "default", "Transfer-Encoding": "chunked"}
        return self.request("/?" + urllib.parse.urlencode(pairs), iter(chunks), headers, chunked=True)


def quote(name):
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


# RowBinary as the crate writes and reads it.
def enc_string(value):
    data = value.encode() if isinstance(value, str) else value
    n = len(data)
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            break
    return bytes(out) + data


ENCODERS = {
    "String": enc_string,
    "UInt8": lambda v: struct.pack("<B", v),
    "UInt16": lambda v: struct.pack("<H", v),
    "UInt32": lambda v: struct.pack("<I", v),
    "UInt64": lambda v: struct.pack("<Q", v),
    "DateTime": lambda v: struct.pack("<I", v),
    "Date": lambda v: struct.pack("<H", v),
    "Float64": lambda v: struct.pack("<d", v),
}


def decode_rows(data, types):
    rows = []
    pos = 0
    while pos < len(data):
        row = []
        for kind in types:
            if kind == "String":
                n = shift = 0
                while True:
                    byte = data[pos]
                    pos += 1
                    n |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                row.append(data[pos:pos + n].decode())
                pos += n
            else:
                fmt = {"UInt8": "<B", "UInt16": "<H", "UInt32": "<I", "UInt64": "<Q", "DateTime": "<I",
                       "Date": "<H", "Float64": "<d"}[kind]
                row.append(struct.unpack_from(fmt, data, pos)[0])
                pos += struct.calcsize(fmt)
        rows.append(tuple(row))
    return rows


# ---------------------------------------------------------------------------------------------
# The server under test.


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    def __init__(self, data_dir, log_path, work):
        self.data_dir, self.log_path, self.work = data_dir, log_path, work
        self.proc = None
        self.port = None

    def start(self):
        self.port = free_port()
        self.out = open(os.path.join(self.work, "server.out"), "ab")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "server.py"), "--port", str(self.port),
             "--data-dir", self.data_dir, "--log", self.log_path],
            stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited with %s; see %s" % (self.proc.returncode, self.out.name))
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/ping")
                if conn.getresponse().read() == b"Ok.\n":
                    conn.close()
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("server did not answer /ping within 120 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        return self.proc.returncode


# ---------------------------------------------------------------------------------------------
# The checks.

RESULTS = []


def check(name):
    def wrap(fn):
        def run(*args):
            started = time.monotonic()
            try:
                fn(*args)
                RESULTS.append((name, True, None))
                print("ok      %s (%.2fs)" % (name, time.monotonic() - started), flush=True)
            except Exception as error:  # report and go on with the next check
                RESULTS.append((name, False, error))
                print("FAILED  %s: %s" % (name, error), flush=True)
                if VERBOSE:
                    traceback.print_exc()
        return run
    return wrap


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def ok(result, what):
    status, _headers, body = result
    expect(status == 200, "%s: HTTP %s: %s" % (what, status, body[:500].decode("utf-8", "replace")))
    return body


# CityHash128 v1.0.2 reference values (Google's city-test data, as in the cityhash-rs crate's
# test_102.rs): the hash of data[i*i : i*i+i] of the test's generated data, as (low64, high64).
CITY_102 = [
    (0, 0x3df09dfc64c09a2b, 0x3cb540c392e51e29),
    (1, 0x1290f0e8a5caa74d, 0xca4c6bf7583f5cda),
    (2, 0xb4af8ae673acb930, 0x992b7acb203d8885),
    (3, 0x8f52532fc6f005b7, 0x4ebe60df371ec129),
    (5, 0xb342cdf0d7ac4b2a, 0x66914d44b373b232),
    (8, 0x763529c8d4189ea8, 0x860d77e7fef74ca3),
    (9, 0x313d49cb51b8cd2c, 0x6e982d8b4658654a),
    (15, 0x1c66ceea473413df, 0xdc3f70a124b25a40),
    (16, 0x8505c996b70ee9fc, 0xb92bba6b5d778eb7),
    (17, 0x1660a2c4972d0fa1, 0x01a1538d6b50a57c),
    (31, 0x441133d221486a3d, 0x0fb9c5a40e19515b),
    (33, 0xf6916c341cb31f2a, 0x591da1353ee5f31c),
    (64, 0x4caf4deeda66a6ee, 0x264720f6f35f7840),
    (127, 0x664ec3fad8521859, 0x406f082beb9ca29a),
    (128, 0x5414e385f5677a6d, 0x41ef105f8a682a28),
    (129, 0xd4bd358fed3e6aa5, 0x8a1ba396356197d9),
    (191, 0x48180ec114a019d9, 0x5dde07c8bebb3f74),
    (192, 0x5006b740dd5776ee, 0xf139123a5edbaaca),
    (255, 0x3ad5fe46fea96c61, 0x5b78b66fef8dea6f),
    (256, 0xbb2fca5617f2c8c8, 0x0a68ae975813669d),
    (298, 0x19fa48781ce2b326, 0xf34fc200e9ca457c),
]


@check("CityHash128 v1.0.2 matches the reference vectors")
def test_cityhash_vectors():
    k0 = 0xC3A5C85C97CB3127
    size = 299 * 299
    data = bytearray(size)
    a, b = 9, 777
    for i in range(size):
        a = (((a ^ (a >> 41)) * k0) + b) & adapter.M64
        b = (((b ^ (b >> 41)) * k0) + i) & adapter.M64
        data[i] = (b >> 37) & 0xFF
    for i, low, high in CITY_102:
        got = adapter.cityhash102_128(data[i * i:i * i + i])
        expect(got == (low, high), "length %d: got %016x %016x" % (i, got[0], got[1]))


@check("LZ4 block round trips")
def test_lz4_round_trip():
    import random
    rng = random.Random(7)
    for n in (0, 1, 4, 5, 12, 13, 64, 1000, 70000, 300000):
        samples = [os.urandom(n), bytes(rng.choice(b"ab") for _ in range(n)), (b"dossier " * (n // 8 + 1))[:n]]
        for sample in samples:
            framed = adapter.compress_block(sample)
            expect(adapter.decompress_blocks(framed) == sample, "round trip of %d bytes" % n)
    framed = adapter.compress_block(b"x" * 1000, adapter.METHOD_NONE)
    expect(adapter.decompress_blocks(framed) == b"x" * 1000, "uncompressed (0x02) block")


@check("/ and /ping answer Ok.")
def test_ping(port, _client):
    for path in ("/", "/ping"):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        conn.close()
        expect(response.status == 200 and body == b"Ok.\n", "GET %s: %s %r" % (path, response.status, body))


DB = "ioc_adapter_test"
EVENT_COLUMNS = [  # (name, type) as inserted: not the table's order, and inserted_at left out
    ("version", "UInt64"), ("event_id", "String"), ("type", "String"),
    ("occurred_at", "DateTime"), ("due_at", "DateTime"), ("fee_bearing", "UInt8"),
    ("components", "UInt16"), ("paused_seconds", "UInt32"), ("day", "Date"), ("ratio", "Float64"),
]
EVENT_ROWS = [
    (1, "e1", "dossier.received", 1772299800, 1773000000, 1, 3, 0, 20513, 0.1),
    (1, "e2", "Hồ sơ đã tiếp nhận — ký tự đặc biệt\t'\"\\\n", 0, 4294967295, 0, 65535, 4294967295, 0, -1e300),
    (2**64 - 1, "e3", "", 1774972799, 1774972800, 255, 0, 86400, 65535, math.inf),
]


def event_rows(rows):
    out = []
    for row in rows:
        out.append(b"".join(ENCODERS[kind](value) for (_name, kind), value in zip(EVENT_COLUMNS, row)))
    return out


@check("CREATE DATABASE with no database selected")
def test_create_database(_port, client):
    ok(client.query("DROP DATABASE IF EXISTS %s" % DB), "drop")
    body = ok(client.query("CREATE DATABASE IF NOT EXISTS %s" % DB), "create database")
    expect(body == b"", "DDL answers an empty body, got %r" % body)


@check("CREATE TABLE ReplacingMergeTree with DateTime('Asia/Ho_Chi_Minh')")
def test_create_table(_port, client):
    ok(client.query(
        "CREATE TABLE IF NOT EXISTS events (event_id String, type String, "
        "occurred_at DateTime('Asia/Ho_Chi_Minh'), due_at DateTime('Asia/Ho_Chi_Minh'), fee_bearing UInt8, "
        "components UInt16, paused_seconds UInt32, version UInt64, day Date, ratio Float64, "
        "inserted_at DateTime DEFAULT now()) ENGINE = ReplacingMergeTree(version) "
        "PARTITION BY toYYYYMM(occurred_at) ORDER BY (event_id)", database=DB), "create table")


@check("RowBinary insert (LZ4 compressed, chunked, column list) and SELECT in RowBinary")
def test_insert_and_select(_port, client):
    body = ok(client.insert("events", [c for c, _ in EVENT_COLUMNS], event_rows(EVENT_ROWS), database=DB),
              "insert")
    expect(body == b"", "insert answers an empty body, got %r" % body)
    names = ", ".join(c for c, _ in EVENT_COLUMNS)
    data = ok(client.query("SELECT %s FROM events ORDER BY event_id" % names, database=DB,
                           fetch_format="RowBinary"), "select")
    got = decode_rows(data, [t for _, t in EVENT_COLUMNS])
    expect(got == EVENT_ROWS, "read back %r, wrote %r" % (got, EVENT_ROWS))
    # The engine's view of the same values: local time in Hà Nội, toYYYYMM in local time.
    text = ok(client.query(
        "SELECT toString(occurred_at), toYYYYMM(occurred_at), toString(day), inserted_at > now() - 600 "
        "FROM events WHERE event_id = 'e1'", database=DB), "select text")
    expect(text == b"2026-03-01 00:30:00\t202603\t2026-03-01\t1\n", "text %r" % text)


@check("insert of several compressed blocks and an uncompressed insert")
def test_bigger_inserts(_port, client):
    ok(client.query("CREATE TABLE bulk (id UInt32, name String, at DateTime('Asia/Ho_Chi_Minh')) "
                    "ENGINE = MergeTree ORDER BY id", database=DB), "create bulk")
    rows = [struct.pack("<I", i) + enc_string("unit-%05d-%s" % (i, "x" * (i % 40))) + struct.pack("<I", 1770000000 + i)
            for i in range(40000)]
    ok(client.insert("bulk", ["id", "name", "at"], rows[:30000], database=DB), "compressed insert")
    ok(client.insert("bulk", ["id", "name", "at"], rows[30000:], database=DB, compress=False),
       "uncompressed insert")
    text = ok(client.query("SELECT count(), sum(id), uniqExact(name), max(at) FROM bulk", database=DB), "count")
    expect(text == b"40000\t799980000\t40000\t2026-02-02 20:46:39\n", "bulk %r" % text)


@check("the decoder reads blocks the engine itself compressed (checksums and LZ4)")
def test_engine_written_blocks(_port, client):
    ok(client.query("CREATE TABLE blocks (n UInt64 CODEC(LZ4), s String CODEC(LZ4)) ENGINE = MergeTree "
                    "ORDER BY n SETTINGS min_bytes_for_wide_part = 0", database=DB), "create blocks")
    ok(client.query("INSERT INTO blocks SELECT number, repeat(toString(number), number % 7) FROM numbers(100000)",
                    database=DB), "fill blocks")
    path = ok(client.query("SELECT path FROM system.parts WHERE database = currentDatabase() "
                           "AND table = 'blocks' AND active", database=DB), "part path").decode().strip()
    raw = open(os.path.join(path, "n.bin"), "rb").read()
    expect(adapter.decompress_blocks(raw) == struct.pack("<100000Q", *range(100000)), "n.bin decodes")
    expect(len(raw) > 16 and raw[16] == adapter.METHOD_LZ4, "n.bin holds LZ4 blocks")
    adapter.decompress_blocks(open(os.path.join(path, "s.bin"), "rb").read())


@check("ReplacingMergeTree: SELECT ... FINAL keeps the newest version")
def test_final(_port, client):
    newer = (5, "e1", "dossier.resolved", 1772299800, 1773000000, 0, 4, 10, 20513, 0.5)
    ok(client.insert("events", [c for c, _ in EVENT_COLUMNS], event_rows([newer]), database=DB), "insert newer")
    names = ", ".join(c for c, _ in EVENT_COLUMNS)
    data = ok(client.query("SELECT %s FROM events FINAL WHERE event_id = 'e1'" % names, database=DB,
                           fetch_format="RowBinary"), "select final")
    expect(decode_rows(data, [t for _, t in EVENT_COLUMNS]) == [newer], "FINAL gave %r" % data)
    count = ok(client.query("SELECT count() FROM events FINAL", database=DB), "count final")
    expect(count == b"3\n", "count FINAL %r" % count)


MEASURES = ("CREATE TABLE measures_daily (source String, day Date, unit_code String, measure String, "
            "dimension String, value UInt64) ENGINE = MergeTree PARTITION BY (source, toYYYYMM(day)) "
            "ORDER BY (measure, dimension, unit_code, day)")


@check("ALTER TABLE ... REPLACE PARTITION (source, 202603) FROM staging; DROP PARTITION")
def test_replace_partition(_port, client):
    ok(client.query(MEASURES, database=DB), "create measures")
    ok(client.query("CREATE TABLE measures_staging AS measures_daily", database=DB), "create staging AS")
    columns = ["source", "day", "unit_code", "measure", "dimension", "value"]

    def rows(values):
        return [enc_string(s) + struct.pack("<H", d) + enc_string(u) + enc_string(m) + enc_string(x) + struct.pack("<Q", v)
                for s, d, u, m, x, v in values]
    mar1, mar5, mar6, apr2 = 20513, 20517, 20518, 20545  # 2026-03-01, -03-05, -03-06, -04-02
    ok(client.insert("measures_daily", columns, rows([
        ("portal", mar1, "U1", "received", "", 1), ("portal", apr2, "U1", "received", "", 5),
        ("edoc", mar1, "U1", "sent", "", 7)]), database=DB), "fill target")
    ok(client.insert("measures_staging", columns, rows([
        ("portal", mar5, "U1", "received", "", 42), ("portal", mar6, "U1", "received", "", 43)]), database=DB),
       "fill staging")
    ok(client.query("ALTER TABLE measures_daily REPLACE PARTITION ('portal', 202603) FROM measures_staging",
                    database=DB), "replace partition")
    text = ok(client.query("SELECT source, day, value FROM measures_daily ORDER BY source, day", database=DB), "read")
    expect(text == b"edoc\t2026-03-01\t7\nportal\t2026-03-05\t42\nportal\t2026-03-06\t43\nportal\t2026-04-02\t5\n",
           "after REPLACE PARTITION: %r" % text)
    ok(client.query("ALTER TABLE measures_daily DROP PARTITION ('portal', 202604)", database=DB), "drop partition")
    count = ok(client.query("SELECT count() FROM measures_daily WHERE source = 'portal'", database=DB), "count")
    expect(count == b"2\n", "after DROP PARTITION: %r" % count)
    ok(client.query("DROP TABLE IF EXISTS measures_staging", database=DB), "drop staging")


@check("other output formats pass through (JSONEachRow, TabSeparated, explicit FORMAT)")
def test_formats(_port, client):
    body = ok(client.query("SELECT event_id, occurred_at FROM events FINAL ORDER BY event_id LIMIT 1",
                           database=DB, fetch_format="JSONEachRow"), "json")
    expect(json.loads(body) == {"event_id": "e1", "occurred_at": "2026-03-01 00:30:00"}, "json %r" % body)
    body = ok(client.query("SELECT 1 AS x FORMAT JSONEachRow", fetch_format="RowBinary"), "explicit format")
    expect(body == b'{"x":1}\n', "explicit FORMAT wins: %r" % body)
    body = ok(client.query("SELECT 'a' AS s, 2 AS n"), "tsv default")
    expect(body == b"a\t2\n", "TabSeparated by default: %r" % body)
    body = ok(client.query("SELECT toUInt8(1)", fetch_format="RowBinary"), "fetch_one::<u8>")
    expect(body == b"\x01", "SELECT 1 as the crate's readiness check: %r" % body)


@check("INSERT data in other formats: in the body after the SQL, or after a `query` parameter")
def test_insert_other_formats(_port, client):
    ok(client.query("CREATE TABLE plain (id UInt32, name String) ENGINE = MergeTree ORDER BY id", database=DB), "create")
    ok(client.query("INSERT INTO plain FORMAT TabSeparated\n1\tone\n2\ttwo\n", database=DB), "TSV in the body")
    ok(client.query("INSERT INTO plain (id, name) VALUES (3, 'three; not a second statement')", database=DB), "VALUES")
    path = "/?" + urllib.parse.urlencode([("database", DB), ("query", "INSERT INTO plain FORMAT JSONEachRow")])
    row = b'{"id": 4, "name": "four"}\n'
    ok(client.request(path, row, {"Content-Length": str(len(row))}), "JSONEachRow after query")
    body = ok(client.query("SELECT id, name FROM plain ORDER BY id FORMAT CSV", database=DB), "read")
    expect(body == b'1,"one"\n2,"two"\n3,"three; not a second statement"\n4,"four"\n', "rows %r" % body)


@check("RowBinaryWithNamesAndTypes both ways (the crate's format with validation on)")
def test_rbwnat(_port, client):
    header = b"\x02" + enc_string("event_id") + enc_string("version") + enc_string("String") + enc_string("UInt64")
    row = enc_string("e7") + struct.pack("<Q", 7)
    sql = "INSERT INTO `events`(`event_id`,`version`) FORMAT RowBinaryWithNamesAndTypes"
    path = "/?" + urllib.parse.urlencode([("database", DB), ("query", sql), ("decompress", "1")])
    ok(client.request(path, iter([adapter.compress_block(header + row)]),
                      {"User-Agent": USER_AGENT, "Transfer-Encoding": "chunked"}, chunked=True), "insert RBWNAT")
    body = ok(client.query("SELECT event_id, version FROM events WHERE event_id = 'e7'", database=DB,
                           fetch_format="RowBinaryWithNamesAndTypes"), "select RBWNAT")
    expect(body == header + row, "RBWNAT answer %r" % body)
    ok(client.query("ALTER TABLE events DELETE WHERE event_id = 'e7' SETTINGS mutations_sync = 1", database=DB),
       "delete e7")


@check("URL settings apply to one request only")
def test_settings(_port, client):
    body = ok(client.query("SELECT getSetting('max_threads')", settings={"max_threads": "1"}), "with setting")
    expect(body == b"1\n", "setting applied: %r" % body)
    body = ok(client.query("SELECT getSetting('max_threads') = 1"), "without setting")
    expect(body == b"0\n", "setting reset afterwards: %r" % body)
    status, headers, body = client.query("SELECT 1", settings={"no_such_setting_at_all": "1"})
    expect(status == 500 and b"UNKNOWN_SETTING" in body, "unknown setting: %s %r" % (status, body))


@check("errors answer HTTP 500 with the engine's message")
def test_errors(_port, client):
    status, headers, body = client.query("SELECT * FROM no_such_table", database=DB)
    text = body.decode()
    expect(status == 500, "status %s" % status)
    expect(text.startswith("Code: 60. DB::Exception: ") and "no_such_table" in text and "UNKNOWN_TABLE" in text,
           "body %r" % text)
    expect(headers.get("X-ClickHouse-Exception-Code") == "60", "exception code header %r" % headers)
    status, _h, body = client.query("SELEC 1")
    expect(status == 500 and body.startswith(b"Code: 62. DB::Exception: Syntax error"), "syntax %r" % body)
    status, _h, body = client.query("SELECT 1; SELECT 2")
    expect(status == 500 and b"Multi-statements are not allowed" in body, "multi %r" % body)
    status, _h, body = client.query("SELECT 1", database="no_such_db")
    expect(status == 500 and body.startswith(b"Code: 81."), "unknown database %r" % body)
    status, _h, body = client.insert("no_such_table", ["a"], [b"\x01"], database=DB)
    expect(status == 500 and b"Code: 60." in body, "insert into missing table %r" % body)
    status, _h, body = client.insert("events", ["event_id", "version"], [enc_string("e9") + b"\x01\x02"], database=DB)
    expect(status == 500 and b"Code: 33." in body, "truncated row %r" % body)
    status, _h, body = client.insert("events", ["event_id", "version"], [enc_string("e9") + struct.pack("<Q", 1)],
                                     database=DB, corrupt=True)
    expect(status == 500 and body.startswith(b"Code: 40. DB::Exception: Checksum doesn't match"), "checksum %r" % body)
    count = ok(client.query("SELECT count() FROM events WHERE event_id = 'e9'", database=DB), "nothing inserted")
    expect(count == b"0\n", "failed inserts wrote nothing: %r" % count)
    ok(client.query("SELECT 1"), "the connection and the engine still work after errors")


@check("concurrent requests keep their own database")
def test_concurrency(port, _client):
    failures = []

    def worker(index):
        client = CrateShapedClient(port)
        for i in range(8):
            database = DB if (index + i) % 2 else "default"
            status, _h, body = client.query("SELECT currentDatabase()", database=database)
            if status != 200 or body != (database + "\n").encode():
                failures.append((database, status, body))
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expect(not failures, "answers for another database: %r" % failures[:3])


def test_statement_log(log_path):
    @check("the statement log has one JSON object per statement")
    def run():
        records = [json.loads(line) for line in open(log_path, encoding="utf-8")]
        expect(all({"database", "statement", "ok", "error"} <= set(r) for r in records), "fields")
        find = lambda pred: [r for r in records if pred(r)]  # noqa: E731
        created = find(lambda r: r["statement"] == "CREATE DATABASE IF NOT EXISTS %s" % DB)
        expect(created and created[0]["database"] is None and created[0]["ok"] is True, "create db %r" % created)
        insert_sql = ("INSERT INTO `events`(%s) FORMAT RowBinary" % ",".join("`%s`" % c for c, _ in EVENT_COLUMNS))
        inserts = find(lambda r: r["statement"] == insert_sql)
        expect(inserts and inserts[0]["database"] == DB and inserts[0]["ok"] and inserts[0]["rows"] == 3,
               "insert logged as sent: %r" % inserts[:1])
        replaced = find(lambda r: r["statement"].startswith("ALTER TABLE measures_daily REPLACE PARTITION"))
        expect(replaced and replaced[0]["ok"], "replace partition logged")
        failed = find(lambda r: r["statement"] == "SELECT * FROM no_such_table")
        expect(failed and failed[0]["ok"] is False and failed[0]["error"].startswith("Code: 60."),
               "error logged: %r" % failed)
        multi = find(lambda r: r["statement"] == "SELECT 1; SELECT 2")
        expect(multi and multi[0]["ok"] is False, "refused statement logged: %r" % multi)
        fetched = find(lambda r: r.get("default_format") == "RowBinary" and r["ok"])
        expect(fetched, "default_format logged")
    run()


@check("data persists across a restart; DROP DATABASE with no database selected")
def test_restart(server, work):
    server.stop()
    server.start()
    client = CrateShapedClient(server.port)
    count = ok(client.query("SELECT count() FROM events FINAL", database=DB), "count after restart")
    expect(count == b"3\n", "after restart %r" % count)
    ok(client.query("DROP DATABASE IF EXISTS %s" % DB), "drop database")
    listed = ok(client.query("SELECT count() FROM system.databases WHERE name = '%s'" % DB), "databases")
    expect(listed == b"0\n", "database dropped: %r" % listed)


def main():
    work = tempfile.mkdtemp(prefix="chdb-adapter-test-")
    log_path = os.path.join(work, "statements.jsonl")
    server = ServerProcess(os.path.join(work, "data"), log_path, work)
    test_cityhash_vectors()
    test_lz4_round_trip()
    try:
        server.start()
    except Exception as error:
        print("FAILED  start the server: %s" % error)
        print("0 passed, 1 failed")
        return 1
    print("server on 127.0.0.1:%d, data and logs in %s" % (server.port, work), flush=True)
    client = CrateShapedClient(server.port)
    for test in (test_ping, test_create_database, test_create_table, test_insert_and_select, test_bigger_inserts,
                 test_engine_written_blocks, test_final, test_replace_partition, test_formats, test_insert_other_formats, test_rbwnat, test_settings,
                 test_errors, test_concurrency):
        test(server.port, client)
    test_statement_log(log_path)
    test_restart(server, work)
    code = server.stop()
    if code != 0:
        RESULTS.append(("server exits 0 on SIGTERM", False, code))
        print("FAILED  server exited %s on SIGTERM" % code)
    failed = [r for r in RESULTS if not r[1]]
    if not failed:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("kept %s for inspection" % work)
    print("%d passed, %d failed" % (len(RESULTS) - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
