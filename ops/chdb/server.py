#!/usr/bin/env python3
"""A thin HTTP front for chdb (in-process ClickHouse) speaking the part of ClickHouse's HTTP
interface that the Rust `clickhouse` crate 0.15.3 uses. The engine executes every statement;
this file only moves bytes: it picks the database, applies URL settings, feeds INSERT data to
the engine in the format the client named, returns the engine's output or error, and writes
one JSON line per statement to the statement log.

    python server.py --port 18123 --data-dir DIR --log FILE

It is not a ClickHouse server: no users or grants (credentials are accepted and ignored), no
HTTP sessions, one statement at a time (a lock around one chdb session). See README.md.

Compressed INSERT bodies (`decompress=1`, the crate's default with its `lz4` feature) are
decoded here: ClickHouse's block framing (16-byte CityHash128 v1.0.2 checksum, method byte,
sizes, LZ4 block) with the checksum verified. Only the standard library is used for that.
"""

import argparse
import datetime
import json
import os
import re
import signal
import struct
import sys
import threading
import time
import urllib.parse
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ADAPTER = "chdb-http-adapter"

# ---------------------------------------------------------------------------------------------
# CityHash128 v1.0.2: the checksum of ClickHouse's compressed blocks. Checked against the
# reference test vectors of CityHash 1.0.2 and against blocks written by the engine itself
# (see test_server.py).

M64 = (1 << 64) - 1
K0 = 0xC3A5C85C97CB3127
K1 = 0xB492B66FBE98F273
K2 = 0x9AE16A3B2F90404F
K3 = 0xC949D7C7509E6557
KMUL = 0x9DDFEA08EB382D69
_u64 = struct.Struct("<Q").unpack_from
_u32 = struct.Struct("<I").unpack_from
_4u64 = struct.Struct("<4Q").unpack_from


def _rot(v, s):
    return ((v >> s) | (v << (64 - s))) & M64 if s else v


def _smix(v):
    return v ^ (v >> 47)


def _h16(u, v):
    a = ((u ^ v) * KMUL) & M64
    a ^= a >> 47
    b = ((v ^ a) * KMUL) & M64
    b ^= b >> 47
    return (b * KMUL) & M64


def _h0to16(s, off, n):
    if n > 8:
        a = _u64(s, off)[0]
        b = _u64(s, off + n - 8)[0]
        return _h16(a, _rot((b + n) & M64, n)) ^ b
    if n >= 4:
        a = _u32(s, off)[0]
        return _h16((n + (a << 3)) & M64, _u32(s, off + n - 4)[0])
    if n > 0:
        a, b, c = s[off], s[off + (n >> 1)], s[off + n - 1]
        y = a + (b << 8)
        z = n + (c << 2)
        return (_smix(((y * K2) ^ (z * K3)) & M64) * K2) & M64
    return K2


def _weak32(s, off, a, b):
    w, x, y, z = _4u64(s, off)
    a = (a + w) & M64
    b = _rot((b + a + z) & M64, 21)
    c = a
    a = (a + x + y) & M64
    b = (b + _rot(a, 44)) & M64
    return (a + z) & M64, (b + c) & M64


def _city_murmur(s, off, n, a, b):
    if n <= 16:
        a = (_smix((a * K1) & M64) * K1) & M64
        c = (b * K1 + _h0to16(s, off, n)) & M64
        d = _smix((a + (_u64(s, off)[0] if n >= 8 else c)) & M64)
    else:
        c = _h16((_u64(s, off + n - 8)[0] + K1) & M64, a)
        d = _h16((b + n) & M64, (c + _u64(s, off + n - 16)[0]) & M64)
        a = (a + d) & M64
        left = n - 16
        while True:
            a ^= (_smix((_u64(s, off)[0] * K1) & M64) * K1) & M64
            a = (a * K1) & M64
            b ^= a
            c ^= (_smix((_u64(s, off + 8)[0] * K1) & M64) * K1) & M64
            c = (c * K1) & M64
            d ^= c
            off += 16
            left -= 16
            if left <= 0:
                break
    a = _h16(a, c)
    b = _h16(d, b)
    return a ^ b, _h16(b, a)


def cityhash102_128_with_seed(s, off, n, x, y):
    """CityHash128WithSeed v1.0.2 over s[off:off+n]; returns (low64, high64)."""
    if n < 128:
        return _city_murmur(s, off, n, x, y)
    end = off + n
    z = (n * K1) & M64
    v0 = (_rot(y ^ K1, 49) * K1 + _u64(s, off)[0]) & M64
    v1 = (_rot(v0, 42) * K1 + _u64(s, off + 8)[0]) & M64
    w0 = (_rot((y + z) & M64, 35) * K1 + x) & M64
    w1 = (_rot((x + _u64(s, off + 88)[0]) & M64, 53) * K1) & M64
    while True:
        for _ in (0, 1):
            x = (_rot((x + y + v0 + _u64(s, off + 16)[0]) & M64, 37) * K1) & M64
            y = (_rot((y + v1 + _u64(s, off + 48)[0]) & M64, 42) * K1) & M64
            x ^= w1
            y ^= v0
            z = _rot(z ^ w0, 33)
            v0, v1 = _weak32(s, off, (v1 * K1) & M64, (x + w0) & M64)
            w0, w1 = _weak32(s, off + 32, (z + w1) & M64, y)
            z, x = x, z
            off += 64
        n -= 128
        if n < 128:
            break
    y = (y + _rot(w0, 37) * K0 + z) & M64
    x = (x + _rot((v0 + z) & M64, 49) * K0) & M64
    tail = 0
    while tail < n:
        tail += 32
        y = (_rot((y - x) & M64, 42) * K0 + v1) & M64
        w0 = (w0 + _u64(s, end - tail + 16)[0]) & M64
        x = (_rot(x, 49) * K0 + w0) & M64
        w0 = (w0 + v0) & M64
        v0, v1 = _weak32(s, end - tail, v0, v1)
    x = _h16(x, v0)
    y = _h16(y, w0)
    return (_h16((x + v1) & M64, w1) + y) & M64, _h16((x + w1) & M64, (y + v1) & M64)


def cityhash102_128(data):
    """CityHash128 v1.0.2 of `data`; returns (low64, high64) as the C++ uint128 pair."""
    s = bytes(data)
    n = len(s)
    if n >= 16:
        return cityhash102_128_with_seed(s, 16, n - 16, _u64(s, 0)[0] ^ K3, _u64(s, 8)[0])
    if n >= 8:
        seed = (_u64(s, 0)[0] ^ ((n * K0) & M64), _u64(s, n - 8)[0] ^ K1)
        return cityhash102_128_with_seed(b"", 0, 0, *seed)
    return cityhash102_128_with_seed(s, 0, n, K0, K1)


# ---------------------------------------------------------------------------------------------
# LZ4 raw block format.


def _lz4_extended_length(src, i, length, what):
    """Adds the extra length bytes that follow a nibble of 15 (each 255 means another byte
    follows); returns the length and the position after them."""
    while True:
        if i >= len(src):
            raise ValueError("LZ4 block ends inside a %s" % what)
        b = src[i]
        i += 1
        length += b
        if b != 255:
            return length, i


def lz4_block_decompress(src, size):
    """Decompresses one raw LZ4 block whose decompressed size is known."""
    src = memoryview(src)
    n = len(src)
    out = bytearray()
    i = 0
    while True:
        if i >= n:
            raise ValueError("LZ4 block ends inside a sequence")
        token = src[i]
        i += 1
        lit = token >> 4
        if lit == 15:
            lit, i = _lz4_extended_length(src, i, lit, "literal length")
        if i + lit > n:
            raise ValueError("LZ4 literals run past the end of the block")
        out += src[i:i + lit]
        i += lit
        if i == n:
            break
        if i + 2 > n:
            raise ValueError("LZ4 block ends inside a match offset")
        offset = src[i] | (src[i + 1] << 8)
        i += 2
        if offset == 0 or offset > len(out):
            raise ValueError("LZ4 match offset %d is out of range" % offset)
        mlen = token & 15
        if mlen == 15:
            mlen, i = _lz4_extended_length(src, i, mlen, "match length")
        mlen += 4
        start = len(out) - offset
        if offset >= mlen:
            out += out[start:start + mlen]
        else:  # overlapping match: repeats the last `offset` bytes
            chunk = bytes(out[start:])
            reps, rest = divmod(mlen, offset)
            out += chunk * reps + chunk[:rest]
        if len(out) > size:
            raise ValueError("LZ4 block decompresses past its declared size %d" % size)
    if len(out) != size:
        raise ValueError("LZ4 block decompressed to %d bytes, its header says %d" % (len(out), size))
    return bytes(out)


def lz4_block_compress(data):
    """A small greedy LZ4 block compressor: valid LZ4, modest ratio (used for `compress=1`
    responses and by the tests to shape requests like the crate's)."""
    data = bytes(data)
    n = len(data)
    out = bytearray()
    table = {}
    anchor = 0
    i = 0
    match_limit = n - 12  # the last match starts at least 12 bytes before the end
    literal_tail = n - 5  # the last 5 bytes are always literals

    def put_length(r):
        while r >= 255:
            out.append(255)
            r -= 255
        out.append(r)

    def emit(lit_start, lit_end, offset, mlen):
        lit = lit_end - lit_start
        token = (15 if lit >= 15 else lit) << 4
        if mlen is not None:
            token |= 15 if mlen - 4 >= 15 else mlen - 4
        out.append(token)
        if lit >= 15:
            put_length(lit - 15)
        out.extend(data[lit_start:lit_end])
        if mlen is not None:
            out.append(offset & 0xFF)
            out.append(offset >> 8)
            if mlen - 4 >= 15:
                put_length(mlen - 4 - 15)

    while i < match_limit:
        key = data[i:i + 4]
        candidate = table.get(key)
        table[key] = i
        if candidate is not None and i - candidate <= 65535:
            mlen = 4
            while i + mlen < literal_tail and data[candidate + mlen] == data[i + mlen]:
                mlen += 1
            emit(anchor, i, i - candidate, mlen)
            i += mlen
            anchor = i
        else:
            i += 1
    emit(anchor, n, None, None)
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# ClickHouse compressed block framing (the `compress=1` / `decompress=1` HTTP parameters):
#   checksum: 16 bytes, CityHash128 v1.0.2 of the rest of the block, low 64 bits first (LE)
#   method:   1 byte (0x82 LZ4, 0x02 none, 0x90 ZSTD, ...)
#   sizes:    u32 LE compressed size (method byte + both sizes + payload), u32 LE decompressed
#   payload

METHOD_NONE = 0x02
METHOD_LZ4 = 0x82
METHOD_NAMES = {0x02: "NONE", 0x82: "LZ4", 0x90: "ZSTD", 0x91: "Multiple", 0x92: "Delta",
                0x93: "T64", 0x94: "DoubleDelta", 0x95: "Gorilla", 0x96: "AES_128_GCM_SIV",
                0x97: "AES_256_GCM_SIV", 0x98: "FPC", 0x99: "DeflateQpl", 0x9a: "GCD",
                0x9b: "ZSTD_QPL"}
HEADER_SIZE = 9
MAX_BLOCK = 1 << 30


class ClickHouseError(Exception):
    """An error answered like ClickHouse answers one: `Code: N. DB::Exception: ...`."""

    def __init__(self, code, name, message):
        super().__init__(message)
        self.code = code
        self.text = "Code: %d. DB::Exception: %s. (%s)" % (code, message.rstrip("."), name)


def decompress_blocks(body):
    """Decodes a body of ClickHouse compressed blocks, verifying each block's checksum."""
    out = []
    pos = 0
    n = len(body)
    while pos < n:
        if n - pos < 16 + HEADER_SIZE:
            raise ClickHouseError(271, "CANNOT_DECOMPRESS",
                                  "Compressed body ends inside a block header at byte %d" % pos)
        low, high = struct.unpack_from("<QQ", body, pos)
        method, csize, dsize = struct.unpack_from("<BII", body, pos + 16)
        if csize < HEADER_SIZE or csize > MAX_BLOCK or dsize > MAX_BLOCK:
            raise ClickHouseError(271, "CANNOT_DECOMPRESS",
                                  "Too large size_compressed_without_checksum: %d (block at byte %d)"
                                  % (csize, pos))
        if pos + 16 + csize > n:
            raise ClickHouseError(271, "CANNOT_DECOMPRESS",
                                  "Compressed body ends inside a block at byte %d" % pos)
        block = body[pos + 16:pos + 16 + csize]
        actual = cityhash102_128(block)
        if actual != (low, high):
            raise ClickHouseError(
                40, "CHECKSUM_DOESNT_MATCH",
                "Checksum doesn't match: corrupted data. Reference: %016x%016x. Actual: %016x%016x. "
                "Size of compressed block: %d (block at byte %d)" % (high, low, actual[1], actual[0], csize, pos))
        payload = block[HEADER_SIZE:]
        if method == METHOD_LZ4:
            try:
                out.append(lz4_block_decompress(payload, dsize))
            except ValueError as error:
                raise ClickHouseError(271, "CANNOT_DECOMPRESS",
                                      "Cannot decompress LZ4 block at byte %d: %s" % (pos, error))
        elif method == METHOD_NONE:
            if len(payload) != dsize:
                raise ClickHouseError(271, "CANNOT_DECOMPRESS",
                                      "Uncompressed block at byte %d has %d bytes, its header says %d"
                                      % (pos, len(payload), dsize))
            out.append(bytes(payload))
        else:
            raise ClickHouseError(
                89, "UNKNOWN_COMPRESSION_METHOD",
                "The chdb HTTP adapter decodes only LZ4 (0x82) and uncompressed (0x02) blocks, got method "
                "0x%02x (%s); configure the client with LZ4 or without compression"
                % (method, METHOD_NAMES.get(method, "unknown")))
        pos += 16 + csize
    return b"".join(out)


def compress_block(data, method=METHOD_LZ4):
    """Frames `data` as one ClickHouse compressed block."""
    payload = lz4_block_compress(data) if method == METHOD_LZ4 else bytes(data)
    block = struct.pack("<BII", method, HEADER_SIZE + len(payload), len(data)) + payload
    low, high = cityhash102_128(block)
    return struct.pack("<QQ", low, high) + block


def compress_blocks(data, block_size=1 << 20, method=METHOD_LZ4):
    return b"".join(compress_block(data[i:i + block_size], method)
                    for i in range(0, len(data), block_size))


# ---------------------------------------------------------------------------------------------
# Just enough SQL lexing to find where an INSERT's data begins and to refuse several
# statements in one request, as ClickHouse's HTTP interface does. Everything else is left to
# the engine's own parser.

_WORD = re.compile(r"[A-Za-z_\x80-\xff][A-Za-z0-9_$\x80-\xff]*")
_HEREDOC = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_NUMBER = re.compile(r"[0-9][0-9A-Za-z_.]*")


def _tokens(text):
    """Yields (kind, value, start, end) over a latin-1 view of the request: kinds are 'word',
    'punct' and 'literal' (strings, quoted identifiers, numbers); comments and spaces are
    skipped. Stops at the end of text or on an unterminated literal."""
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n\f\v":
            i += 1
        elif text.startswith("--", i) or (c == "#" and text[i + 1:i + 2] in (" ", "!")):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            i = j
        elif c in "'`\"":
            j = i + 1
            while j < n:
                if text[j] == "\\":
                    j += 2
                elif text[j] == c:
                    if text[j + 1:j + 2] == c:
                        j += 2
                    else:
                        break
                else:
                    j += 1
            if j >= n:
                return
            yield ("literal", text[i:j + 1], i, j + 1)
            i = j + 1
        elif c == "$" and _HEREDOC.match(text, i):
            tag = _HEREDOC.match(text, i).group(0)
            j = text.find(tag, i + len(tag))
            if j < 0:
                return
            yield ("literal", text[i:j + len(tag)], i, j + len(tag))
            i = j + len(tag)
        else:
            m = _WORD.match(text, i)
            if m:
                yield ("word", m.group(0), i, m.end())
                i = m.end()
            elif c in "0123456789":
                m = _NUMBER.match(text, i)
                yield ("literal", m.group(0), i, m.end())
                i = m.end()
            else:
                yield ("punct", c, i, i + 1)
                i += 1


def split_request(raw):
    """Splits the request text into (sql, insert_head, data_format, data). For an
    `INSERT ... FORMAT name` statement, the data starts after the format name and the
    whitespace up to the first newline (as in ClickHouse); the other statements have no data.
    `sql` is the statement as the client sent it (without the data)."""
    text = raw.decode("latin-1")
    tokens = _tokens(text)
    first = next(tokens, None)
    if first and first[0] == "word" and first[1].upper() == "INSERT":
        depth = 0
        for kind, value, start, end in tokens:
            if kind == "punct" and value == "(":
                depth += 1
            elif kind == "punct" and value == ")":
                depth -= 1
            elif kind == "word" and depth == 0:
                word = value.upper()
                if word in ("SELECT", "WITH", "VALUES"):
                    break  # INSERT ... SELECT / VALUES: the engine parses it whole
                if word == "FORMAT":
                    name = next(tokens, None)
                    if not name or name[0] != "word":
                        break
                    j = name[3]
                    while j < len(text) and text[j] in " \t\r\n\f\v":
                        j += 1
                        if text[j - 1] == "\n":
                            break
                    head = raw[:start].decode("utf-8", "replace").strip()
                    sql = raw[:name[3]].decode("utf-8", "replace").strip()
                    return sql, head, name[1], raw[j:]
    sql = raw.decode("utf-8", "replace")
    check_single_statement(text)
    return sql.strip(), None, None, None


def check_single_statement(text):
    seen_end = False
    for kind, value, _start, _end in _tokens(text):
        if seen_end:
            raise ClickHouseError(62, "SYNTAX_ERROR", "Multi-statements are not allowed")
        if kind == "punct" and value == ";":
            seen_end = True


def parse_multipart(body, content_type):
    """Parses a multipart/form-data body into {name: text}."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise ClickHouseError(36, "BAD_ARGUMENTS", "multipart/form-data request without a boundary")
    delimiter = b"--" + m.group(1).encode("latin-1")
    fields = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        part = part[2:] if part.startswith(b"\r\n") else part
        head, _, value = part.partition(b"\r\n\r\n")
        if value.endswith(b"\r\n"):
            value = value[:-2]
        name = re.search(rb'name="([^"]*)"', head)
        if name:
            fields[name.group(1).decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return fields


# URL parameters that are not settings (ClickHouse's HTTP handler treats them itself).
RESERVED_PARAMS = {
    "query", "database", "default_format", "compress", "decompress", "user", "password",
    "quota_key", "query_id", "session_id", "session_timeout", "session_check", "close_session",
    "stacktrace", "role", "buffer_size", "wait_end_of_query", "client_protocol_version",
    "with_stacktrace", "enable_http_compression_compat",
}
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

BINARY_FORMATS = ("RowBinary", "Native", "Parquet", "Arrow", "ORC", "Avro", "MsgPack", "Protobuf",
                  "CapnProto", "BSONEachRow", "Npy")


def _sql_string(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _identifier(name):
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _error_code(text):
    m = re.search(r"Code: (\d+)\.", text)
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------------------------------------
# The engine: one chdb session, one statement at a time.


class Engine:
    def __init__(self, data_dir, log_path):
        import chdb
        from chdb import session as chdb_session

        os.makedirs(data_dir, exist_ok=True)
        self.session = chdb_session.Session(os.path.abspath(data_dir))
        self.chdb_version = getattr(chdb, "__version__", "unknown")
        self.lock = threading.Lock()
        self.log = open(log_path, "a", encoding="utf-8") if log_path else None
        result = self.session.query("SELECT version(), timezone()", "TabSeparated")
        self.engine_version, self.timezone = result.bytes().decode().strip().split("\t")

    def close(self):
        with self.lock:
            if self.session is not None:
                self.session.close()
                self.session = None
            if self.log:
                self.log.close()
                self.log = None

    def _write_log(self, record):
        if self.log:
            self.log.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.log.flush()

    def _error_text(self, error):
        text = str(error)
        index = text.find("Code: ")
        if isinstance(error, ClickHouseError):
            text = error.text
        elif index >= 0:
            text = text[index:]
        else:
            text = "Code: 1001. DB::Exception: %s. (STD_EXCEPTION)" % text.rstrip(".")
        text = text.rstrip()
        if "(version " not in text:
            text += " (version %s (chdb %s, %s))" % (self.engine_version, self.chdb_version, ADAPTER)
        return text

    def log_rejected(self, params, body, error):
        """Logs a request refused before it reached the engine; returns the error text."""
        text = self._error_text(error)
        statement = params.get("query", "")
        if not params.get("decompress") and body:
            shown = body[:4096].decode("utf-8", "replace")
            statement = (statement + "\n" + shown) if statement else shown
        with self.lock:
            self._write_log({"time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
                             "database": params.get("database") or None, "statement": statement.strip(),
                             "ok": False, "error": text, "rejected_by_adapter": True})
        return text

    def execute(self, request):
        """Runs one request's statement; returns (ok, output bytes or error text, summary)."""
        with self.lock:
            started = time.monotonic()
            record = {"time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
                      "database": request["database"], "statement": request["sql"], "ok": False, "error": None}
            if request["head"] is not None:
                record["data_format"] = request["data_format"]
                record["data_bytes"] = len(request["data"])
            elif request["format"]:
                record["default_format"] = request["format"]
            if request["settings"]:
                record["settings"] = request["settings"]
            if request["params"]:
                record["params"] = request["params"]
            applied = []
            try:
                if self.session is None:
                    raise ClickHouseError(1001, "STD_EXCEPTION", "The server is shutting down")
                self.session.query("USE " + _identifier(request["database"] or "default"), "TabSeparated")
                for name, value in request["settings"].items():
                    self.session.query("SET %s = %s" % (name, _sql_string(value)), "TabSeparated")
                    applied.append(name)
                summary = {}
                if request["head"] is not None:
                    inserter = self.session.send_insert(request["head"], request["data_format"])
                    data = request["data"]
                    try:
                        for i in range(0, len(data), 1 << 20):
                            inserter.append(data[i:i + (1 << 20)])
                    except Exception:
                        inserter.cancel()
                        raise
                    result = inserter.finish()
                    summary = {"written_rows": result.rows_written, "written_bytes": result.bytes_written}
                    record["rows"] = result.rows_written
                    output = b""
                else:
                    result = self.session.query(request["sql"], request["format"] or "TabSeparated",
                                                params=request["params"] or None)
                    if not hasattr(result, "bytes"):
                        raise ClickHouseError(73, "UNKNOWN_FORMAT",
                                              "Format %s is a Python-only chdb format, not available over HTTP"
                                              % request["format"])
                    output = result.bytes() or b""
                    for key, attr in (("read_rows", "rows_read"), ("read_bytes", "bytes_read"),
                                      ("written_rows", "rows_written"), ("written_bytes", "bytes_written")):
                        value = getattr(result, attr, None)
                        try:
                            summary[key] = int(value() if callable(value) else value)
                        except (TypeError, ValueError):
                            pass
                record["ok"] = True
                return True, output, summary
            except Exception as error:  # the engine's errors are answered, never raised
                text = self._error_text(error)
                record["error"] = text
                return False, text, {}
            finally:
                for name in applied:
                    try:
                        self.session.query("SET %s = DEFAULT" % name, "TabSeparated")
                    except Exception:
                        pass
                record["elapsed_ms"] = round((time.monotonic() - started) * 1000, 3)
                self._write_log(record)


# ---------------------------------------------------------------------------------------------
# HTTP.


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ClickHouse-chdb-adapter"
    timeout = 60  # idle keep-alive connections are closed after this many seconds

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s: %s\n" % (ADAPTER, fmt % args))

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ClickHouseError(33, "CANNOT_READ_ALL_DATA", "The chunked request body ended early")
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(parts)
        length = self.headers.get("Content-Length")
        return self.rfile.read(int(length)) if length else b""

    def _send(self, status, body, content_type="text/plain; charset=UTF-8", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-ClickHouse-Server-Display-Name", ADAPTER)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def _handle(self):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        params = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
        try:
            body = self._read_body() if self.command == "POST" else b""
        except (ValueError, ClickHouseError) as error:
            self.close_connection = True
            text = error.text if isinstance(error, ClickHouseError) else "Code: 33. DB::Exception: %s" % error
            self._send(400, (text + "\n").encode())
            return
        if path in ("/ping", "/replicas_status") or (path == "/" and self.command != "POST" and not params):
            self._send(200, b"Ok.\n")
            return
        if path != "/":
            self._send(404, ("There is no handle %s\n\nUse / or /ping for health checks.\n" % path).encode())
            return
        query_id = dict(params).get("query_id") or str(uuid.uuid4())
        try:
            request = self._parse(params, body)
        except ClickHouseError as error:
            text = self.server.engine.log_rejected(dict(params), body, error)
            self._answer_error(text, query_id)
            return
        ok, output, summary = self.server.engine.execute(request)
        if not ok:
            self._answer_error(output, query_id)
            return
        headers = {
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": self.server.engine.timezone,
            "X-ClickHouse-Summary": json.dumps({k: str(v) for k, v in summary.items()}),
        }
        fmt = request["format"] or "TabSeparated"
        if request["head"] is None:
            headers["X-ClickHouse-Format"] = fmt
        content_type = ("application/octet-stream" if fmt.startswith(BINARY_FORMATS)
                        else "text/plain; charset=UTF-8")
        if request["compress"] and output:
            output = compress_blocks(output)
            content_type = "application/octet-stream"
        self._send(200, output, content_type, headers)

    def _answer_error(self, text, query_id):
        code = _error_code(text) or 1001
        self._send(500, (text + "\n").encode("utf-8", "replace"),
                   headers={"X-ClickHouse-Exception-Code": str(code), "X-ClickHouse-Query-Id": query_id})

    def _parse(self, params, body):
        values = {}
        for name, value in params:
            values[name] = value  # the last occurrence wins
        if values.get("decompress") in ("1", "true"):
            body = decompress_blocks(body)
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("gzip", "deflate"):
            try:
                body = zlib.decompress(body, 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
            except zlib.error as error:
                raise ClickHouseError(271, "CANNOT_DECOMPRESS", "Cannot decode %s request body: %s"
                                      % (encoding, error))
        elif encoding not in ("", "identity"):
            raise ClickHouseError(
                89, "UNKNOWN_COMPRESSION_METHOD",
                "The chdb HTTP adapter does not decode Content-Encoding %s request bodies; "
                "configure the client without HTTP body compression" % encoding)
        query_params = {k[len("param_"):]: v for k, v in values.items() if k.startswith("param_")}
        content_type = self.headers.get("Content-Type", "")
        query = values.get("query", "")
        if content_type.lower().startswith("multipart/form-data"):
            fields = parse_multipart(body, content_type)
            query = fields.pop("query", query)
            query_params.update({k[len("param_"):]: v for k, v in fields.items() if k.startswith("param_")})
            body = b""
        raw = (query.encode("utf-8") + b"\n" + body) if query else body
        if not raw.strip():
            raise ClickHouseError(62, "SYNTAX_ERROR", "Empty query")
        sql, head, data_format, data = split_request(raw)
        settings = {}
        for name, value in values.items():
            if name in RESERVED_PARAMS or name.startswith("param_"):
                continue
            if not _SETTING_NAME.match(name):
                raise ClickHouseError(115, "UNKNOWN_SETTING", "Unknown setting '%s'" % name)
            settings[name] = value
        return {
            "database": values.get("database") or None,
            "sql": sql,
            "head": head,
            "data_format": data_format,
            "data": data,
            "format": values.get("default_format") or None,
            "settings": settings,
            "params": query_params,
            "compress": values.get("compress") in ("1", "true"),
        }


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser(description="A thin ClickHouse-HTTP front for chdb (see README.md).")
    parser.add_argument("--port", type=int, default=18123, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--data-dir", required=True, help="where the chdb session keeps its databases")
    parser.add_argument("--log", help="statement log: one JSON object a line (appended)")
    parser.add_argument("--timezone", help="the engine's server time zone (default: the process TZ)")
    parser.add_argument("--verbose", action="store_true", help="log each HTTP request to stderr")
    args = parser.parse_args()

    if args.timezone:
        os.environ["TZ"] = args.timezone
    try:
        engine = Engine(args.data_dir, args.log)
    except ImportError:
        sys.exit("%s: chdb is not importable by %s; run ops/chdb/setup and start this with the "
                 "python it prints" % (ADAPTER, sys.executable))
    try:
        server = Server(("127.0.0.1", args.port), Handler)
    except OSError as error:
        engine.close()
        sys.exit("%s: cannot listen on 127.0.0.1:%d: %s" % (ADAPTER, args.port, error))
    server.engine = engine
    server.verbose = args.verbose

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("%s: listening on http://127.0.0.1:%d (chdb %s, engine %s, time zone %s, data %s)"
          % (ADAPTER, server.server_address[1], engine.chdb_version, engine.engine_version,
             engine.timezone, os.path.abspath(args.data_dir)), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        engine.close()


if __name__ == "__main__":
    main()
