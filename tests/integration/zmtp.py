"""A raw ZeroMQ peer for protocol tests, without pyzmq: ZMTP 3.0 with the
NULL mechanism over a plain TCP socket to 127.0.0.1, as a DEALER with a
routing id of its choosing, plus just enough msgpack to speak minispark's
messages. It plays a local attacker or a careless client: it sends frames
no well-behaved library would (truncated, oversized, of unknown types,
forged) and may leave replies unread."""

import select
import socket
import struct

# ------------------------------------------------------------------ msgpack


def pack(v):
    """msgpack of None, bool, int, str, bytes and lists of them."""
    if v is None:
        return b"\xc0"
    if v is True or v is False:
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack("b", v)
        if v >= 0:
            return b"\xcf" + struct.pack(">Q", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, str):
        v = v.encode()
        if len(v) < 32:
            return bytes([0xA0 | len(v)]) + v
        return b"\xdb" + struct.pack(">I", len(v)) + v
    if isinstance(v, bytes):
        return b"\xc6" + struct.pack(">I", len(v)) + v
    if isinstance(v, (list, tuple)):
        head = (bytes([0x90 | len(v)]) if len(v) < 16
                else b"\xdd" + struct.pack(">I", len(v)))
        return head + b"".join(pack(x) for x in v)
    raise TypeError("cannot pack %r" % (v,))


def unpack(data):
    """The one value data holds; ValueError if it holds anything else
    (maps, floats and extensions included: minispark's messages have
    none)."""
    v, i = _unpack(data, 0)
    if i != len(data):
        raise ValueError("trailing bytes")
    return v


_CONSTANTS = {0xC0: None, 0xC2: False, 0xC3: True}
_INTS = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q",
         0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q"}
_LENGTHS = {0xC4: ">B", 0xC5: ">H", 0xC6: ">I",  # bin
            0xD9: ">B", 0xDA: ">H", 0xDB: ">I",  # str
            0xDC: ">H", 0xDD: ">I"}              # array
_ARRAYS, _BINS = (0xDC, 0xDD), (0xC4, 0xC5, 0xC6)


def _int(d, i, fmt):
    n = struct.calcsize(fmt)
    return struct.unpack(fmt, d[i:i + n])[0], i + n


def _unpack(d, i):
    t = d[i]
    i += 1
    if t < 0x80:
        return t, i
    if t >= 0xE0:
        return t - 256, i
    if t in _CONSTANTS:
        return _CONSTANTS[t], i
    if t in _INTS:
        return _int(d, i, _INTS[t])
    if 0x90 <= t <= 0xBF:  # fixarray, fixstr
        n = t & (0x0F if t <= 0x9F else 0x1F)
    elif t in _LENGTHS:
        n, i = _int(d, i, _LENGTHS[t])
    else:
        raise ValueError("msgpack type 0x%02x" % t)
    if t <= 0x9F or t in _ARRAYS:
        out = []
        for _ in range(n):
            x, i = _unpack(d, i)
            out.append(x)
        return out, i
    raw = d[i:i + n]
    if len(raw) != n:
        raise ValueError("truncated")
    return (raw if t in _BINS else raw.decode()), i + n


def msg(type_, *fields):
    """A minispark message: [protocol version 1, type, fields...]."""
    return pack([1, type_, *fields])


# --------------------------------------------------------------------- ZMTP


def frame_header(size, more=False, command=False):
    """What starts a frame of size bytes, which may announce more than
    follows it."""
    flags = (1 if more else 0) | (4 if command else 0)
    if size > 255:
        return bytes([flags | 2]) + struct.pack(">Q", size)
    return bytes([flags, size])


class Peer:
    """One connection to 127.0.0.1:port, as a DEALER whose routing id is
    identity (empty: the server picks one). A failed handshake or a hang-up
    raises ConnectionError; waiting on the socket for more than timeout
    seconds raises socket.timeout."""

    def __init__(self, port, identity=b"", timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.sock.sendall(b"\xff" + b"\0" * 8 + b"\x7f\x03\x00"
                          + b"NULL".ljust(20, b"\0") + b"\0" * 32)
        theirs = self._read(64)
        if theirs[0] != 0xFF or theirs[9] != 0x7F or theirs[10] < 3:
            raise ConnectionError("not a ZMTP 3 peer: %r" % theirs[:12])
        ready = b"\x05READY" + b"".join(
            bytes([len(k)]) + k + struct.pack(">I", len(v)) + v
            for k, v in ((b"Socket-Type", b"DEALER"), (b"Identity", identity)))
        self.sock.sendall(frame_header(len(ready), command=True) + ready)
        flags, body = self._frame()
        if not flags & 4 or not body.startswith(b"\x05READY"):
            raise ConnectionError("no READY from the server: %r" % body[:20])

    def close(self):
        self.sock.close()

    def send(self, *frames):
        """Sends one message of these frames (bytes)."""
        self.sock.sendall(b"".join(
            frame_header(len(f), more=i + 1 < len(frames)) + f
            for i, f in enumerate(frames)))

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv(self, timeout=None):
        """The next message: its list of frames. With a timeout, None if
        no message began to arrive within it."""
        frames = []
        while True:
            if (timeout is not None and not frames and
                    not select.select([self.sock], [], [], timeout)[0]):
                return None
            flags, body = self._frame()
            if flags & 4:
                continue  # a command (PING...): not a message
            frames.append(body)
            if not flags & 1:
                return frames

    def call(self, body):
        """Sends a one-frame request; returns the reply's first frame
        decoded and the list of the frames after it."""
        self.send(body)
        frames = self.recv()
        return unpack(frames[0]), frames[1:]

    def _frame(self):
        flags = self._read(1)[0]
        size = (struct.unpack(">Q", self._read(8))[0] if flags & 2
                else self._read(1)[0])
        return flags, self._read(size)

    def _read(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("connection closed by the server")
            out += chunk
        return out
