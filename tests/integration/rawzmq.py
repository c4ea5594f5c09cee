"""Just enough ZeroMQ (ZMTP 3.0, NULL mechanism, as a DEALER) and msgpack to
talk to a minispark server over a plain TCP socket, so that tests can send
frames no well-behaved client would: truncated, oversized, of unknown types,
or requests whose replies are never read."""

import socket
import struct

# ------------------------------------------------------------------ msgpack


def pack(v):
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
        n = len(v)
        if n < 32:
            return bytes([0xA0 | n]) + v
        return b"\xdb" + struct.pack(">I", n) + v
    if isinstance(v, bytes):
        return b"\xc6" + struct.pack(">I", len(v)) + v
    if isinstance(v, (list, tuple)):
        n = len(v)
        head = bytes([0x90 | n]) if n < 16 else b"\xdd" + struct.pack(">I", n)
        return head + b"".join(pack(x) for x in v)
    raise TypeError(v)


def unpack(data):
    """Decodes one value; raises ValueError on anything else."""
    v, off = _unpack(data, 0)
    if off != len(data):
        raise ValueError("trailing bytes")
    return v


_FIXED = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q",
          0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q"}


def _unpack(d, i):
    b = d[i]
    i += 1
    if b < 0x80:
        return b, i
    if b >= 0xE0:
        return b - 256, i
    if 0xA0 <= b <= 0xBF or b in (0xD9, 0xDA, 0xDB, 0xC4, 0xC5, 0xC6):
        if b <= 0xBF:
            n = b & 31
        else:
            w = {0xD9: 1, 0xC4: 1, 0xDA: 2, 0xC5: 2}.get(b, 4)
            n = int.from_bytes(d[i:i + w], "big")
            i += w
        raw = d[i:i + n]
        if len(raw) != n:
            raise ValueError("truncated")
        return (raw.decode() if b <= 0xDB and b not in (0xC4, 0xC5, 0xC6)
                else raw), i + n
    if 0x90 <= b <= 0x9F or b in (0xDC, 0xDD):
        if b <= 0x9F:
            n = b & 15
        else:
            w = 2 if b == 0xDC else 4
            n = int.from_bytes(d[i:i + w], "big")
            i += w
        out = []
        for _ in range(n):
            x, i = _unpack(d, i)
            out.append(x)
        return out, i
    if b in _FIXED:
        fmt = _FIXED[b]
        n = struct.calcsize(fmt)
        return struct.unpack(fmt, d[i:i + n])[0], i + n
    if b == 0xC0:
        return None, i
    if b in (0xC2, 0xC3):
        return b == 0xC3, i
    raise ValueError("msgpack type 0x%02x" % b)


# --------------------------------------------------------------------- ZMTP


class Closed(Exception):
    """The server closed the connection."""


class Dealer:
    """One ZMTP 3.0 connection, NULL mechanism, socket type DEALER."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        greeting = (b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x00" +
                    b"NULL".ljust(20, b"\0") + b"\0" + b"\0" * 31)
        self.sock.sendall(greeting)
        theirs = self._read(64)
        if theirs[0] != 0xFF or theirs[9] != 0x7F or theirs[10] < 3:
            raise ValueError("not a ZMTP 3 peer: %r" % theirs[:12])
        self._send_frame(b"\x05READY" + self._prop(b"Socket-Type", b"DEALER"),
                         command=True)
        flags, body = self._recv_frame()
        if not flags & 4 or not body.startswith(b"\x05READY"):
            raise ValueError("no READY from the server: %r" % body[:20])

    @staticmethod
    def _prop(name, value):
        return bytes([len(name)]) + name + struct.pack(">I", len(value)) + value

    def close(self):
        self.sock.close()

    def _read(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise Closed()
            out += chunk
        return out

    def _send_frame(self, body, more=False, command=False):
        self.sock.sendall(self.frame_header(len(body), more, command) + body)

    @staticmethod
    def frame_header(size, more=False, command=False):
        flags = (1 if more else 0) | (4 if command else 0)
        if size > 255:
            return bytes([flags | 2]) + struct.pack(">Q", size)
        return bytes([flags, size])

    def _recv_frame(self):
        flags = self._read(1)[0]
        size = (struct.unpack(">Q", self._read(8))[0] if flags & 2
                else self._read(1)[0])
        return flags, self._read(size)

    def send(self, *frames):
        """Sends one message of these frames (bytes)."""
        for i, f in enumerate(frames):
            self._send_frame(f, more=i + 1 < len(frames))

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv(self):
        """Receives one message: its list of frames."""
        frames = []
        while True:
            flags, body = self._recv_frame()
            if flags & 4:
                continue  # a command (PING/heartbeat): not a message
            frames.append(body)
            if not flags & 1:
                return frames

    def call(self, body):
        """Sends a one-frame request; returns the reply's first frame
        decoded and the list of the raw frames after it."""
        self.send(body)
        frames = self.recv()
        return unpack(frames[0]), frames[1:]


def msg(type_, *fields):
    """A minispark message body: [version 1, type, fields...]."""
    return pack([1, type_] + list(fields))


PING, PONG, FETCH, BLOCKS = 22, 23, 20, 21
REMOVE_APP, REMOVED, APP_ALIVE, REMOVE_SHUFFLE = 24, 25, 26, 14
