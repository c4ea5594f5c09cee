"""A raw ZeroMQ peer for protocol tests: ZMTP 3.0 with the NULL mechanism
over a plain TCP socket (the handshake is two greetings and two READY
commands), plus just enough msgpack to speak minispark's messages. It
plays the part of a local attacker who sends whatever frames it likes,
which a well-behaved library would not let a test do.

Only loopback addresses are used by the tests that import it."""

import socket
import struct

# ------------------------------------------------------------------ msgpack


def pack(v):
    """msgpack of None, bool, int, str, bytes and lists of them."""
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack("b", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, str):
        b = v.encode()
        return b"\xdb" + struct.pack(">I", len(b)) + b
    if isinstance(v, (bytes, bytearray)):
        return b"\xc6" + struct.pack(">I", len(v)) + bytes(v)
    if isinstance(v, (list, tuple)):
        return (b"\xdd" + struct.pack(">I", len(v))
                + b"".join(pack(x) for x in v))
    raise TypeError("cannot pack %r" % (v,))


def unpack(data):
    """The first msgpack value of data (maps become lists of pairs)."""
    v, _ = _unpack(data, 0)
    return v


_FIXED = {0xc0: None, 0xc2: False, 0xc3: True}
_INTS = {0xcc: ">B", 0xcd: ">H", 0xce: ">I", 0xcf: ">Q",
         0xd0: ">b", 0xd1: ">h", 0xd2: ">i", 0xd3: ">q",
         0xca: ">f", 0xcb: ">d"}
_LENS = {0xc4: ">B", 0xc5: ">H", 0xc6: ">I",   # bin
         0xd9: ">B", 0xda: ">H", 0xdb: ">I",   # str
         0xdc: ">H", 0xdd: ">I",               # array
         0xde: ">H", 0xdf: ">I"}               # map


def _unpack(d, i):
    t = d[i]
    i += 1
    if t < 0x80:
        return t, i
    if t >= 0xe0:
        return t - 256, i
    if t in _FIXED:
        return _FIXED[t], i
    if t in _INTS:
        f = _INTS[t]
        n = struct.calcsize(f)
        return struct.unpack(f, d[i:i + n])[0], i + n
    if 0xa0 <= t <= 0xbf:
        n = t & 0x1f
        return d[i:i + n].decode(errors="replace"), i + n
    if 0x90 <= t <= 0x9f:
        return _items(d, i, t & 0x0f)
    if 0x80 <= t <= 0x8f:
        return _items(d, i, 2 * (t & 0x0f))
    if t in _LENS:
        f = _LENS[t]
        k = struct.calcsize(f)
        n = struct.unpack(f, d[i:i + k])[0]
        i += k
        if t in (0xc4, 0xc5, 0xc6):
            return bytes(d[i:i + n]), i + n
        if t in (0xd9, 0xda, 0xdb):
            return d[i:i + n].decode(errors="replace"), i + n
        return _items(d, i, n if t in (0xdc, 0xdd) else 2 * n)
    raise ValueError("msgpack type 0x%02x not supported" % t)


def _items(d, i, n):
    out = []
    for _ in range(n):
        v, i = _unpack(d, i)
        out.append(v)
    return out, i


# --------------------------------------------------------------------- ZMTP

def _greeting():
    return (b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x00"
            + b"NULL".ljust(20, b"\0") + b"\0" + b"\0" * 31)


def _command(name, props):
    body = bytes([len(name)]) + name
    for k, v in props:
        body += bytes([len(k)]) + k + struct.pack(">I", len(v)) + v
    return _frame_header(len(body), more=False, command=True) + body


def _frame_header(size, more, command=False):
    flags = (1 if more else 0) | (4 if command else 0)
    if size > 255:
        return bytes([flags | 2]) + struct.pack(">Q", size)
    return bytes([flags, size])


class Peer:
    """One DEALER-like connection with a routing id of our choosing."""

    def __init__(self, host, port, identity=b"", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.sock.sendall(_greeting())
        self._read_exact(64)
        self.sock.sendall(_command(b"READY", [(b"Socket-Type", b"DEALER"),
                                               (b"Identity", identity)]))
        flags, body = self._read_frame()
        if not flags & 4 or not body.startswith(b"\x05READY"):
            raise ConnectionError("no READY from the peer")

    def close(self):
        self.sock.close()

    def _read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the peer")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _read_frame(self):
        flags = self._read_exact(1)[0]
        if flags & 2:
            size = struct.unpack(">Q", self._read_exact(8))[0]
        else:
            size = self._read_exact(1)[0]
        return flags, self._read_exact(size)

    def send(self, frames):
        """Sends one multipart message (a list of bytes)."""
        out = b""
        for i, f in enumerate(frames):
            out += _frame_header(len(f), more=i + 1 < len(frames)) + f
        self.sock.sendall(out)

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv(self, timeout=None):
        """The next message's frames; None when nothing came in time."""
        self.sock.settimeout(timeout)
        frames = []
        try:
            while True:
                flags, body = self._read_frame()
                if flags & 4:
                    continue  # a command (PING...): not a message
                frames.append(body)
                if not flags & 1:
                    return frames
        except socket.timeout:
            if frames:
                raise
            return None

    @staticmethod
    def frame_header(size, more=False):
        return _frame_header(size, more)
