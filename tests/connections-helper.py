#!/usr/bin/env python3
"""Test-side venueless server for the connections tests and bench.

Registers websocket connections in Redis the way venueless (channels +
channels_redis) does, then reads what `venueless connections` sent: the
process keys of the default layer, or pub/sub messages. Everything here
is independent of venueless: its own RESP client, shard function and
msgpack decoder (Python standard library only).

  register OUT --label L --procs K --conns N [--pubsub] [--stale-members M]
  check EXPECT... --type T [--staggered]      default layer: read process keys
  subscribe OUT EXPECT... (prints "ready" once subscribed; stops on SIGTERM
                          or when every channel has a message)
  verify-sub OUT EXPECT... --type T           check a subscribe result
  wait-pop EXPECT... [--timeout S]            bench: BZPOPMIN every process
                          key, print when the last one got its message
  join OUT --groups G1,G2 --procs K --conns N [--stale-members M]
                          default layer: N websockets, each in every group
                          (world.X, room.U, user.U: as the server joins them)
  group-messages EXPECT...  default layer: every message in the process keys
                          of EXPECT, one JSON line each, sorted, decoded
                          with map keys in their order (channels sorted)
  group-subscribe OUT N GROUP...  pub/sub layer: subscribe P__group__GROUP
                          on its shard, print "ready", write the first N
                          messages as JSON lines (channel, decoded)
"""
import binascii
import json
import os
import secrets
import select
import signal
import socket
import struct
import sys
import time

# A live server refreshes its label key every few seconds with a 60 s
# expiry; the helper sets it once, so a test that runs longer than that
# on a loaded machine asks for more (VL_LABEL_TTL) rather than see its
# labels die between two snapshots.
LABEL_TTL = int(os.environ.get("VL_LABEL_TTL", "60"))
import urllib.parse

PREFIX = "venueless:0:asgi:"


# ---------------------------------------------------------------- redis

class Redis:
    """A minimal RESP2 client over TCP or a unix socket."""

    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        if u.scheme == "unix":
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(u.path)
            q = urllib.parse.parse_qs(u.query)
            db = q.get("db", ["0"])[0]
            password = q.get("password", [None])[0]
        else:
            self.sock = socket.create_connection((u.hostname, u.port or 6379))
            db = (u.path or "/0").lstrip("/") or "0"
            password = u.password and urllib.parse.unquote(u.password)
        self.buf = b""
        if password:
            self.call("AUTH", password)
        self.call("SELECT", db)

    def send(self, *cmds):
        out = []
        for cmd in cmds:
            args = [a if isinstance(a, bytes) else str(a).encode() for a in cmd]
            out.append(b"*%d\r\n" % len(args))
            for a in args:
                out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("redis closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)

    def complete(self):
        """True when the buffer holds one whole reply (arrays of bulks)."""
        def skip(i):
            j = self.buf.find(b"\r\n", i)
            if j < 0:
                return -1
            t, n = self.buf[i:i + 1], self.buf[i + 1:j]
            if t == b"$":
                n = int(n)
                end = j + 2 + max(n, 0) + (2 if n >= 0 else 0)
                return end if len(self.buf) >= end else -1
            if t == b"*":
                i = j + 2
                for _ in range(max(int(n), 0)):
                    i = skip(i)
                    if i < 0:
                        return -1
                return i
            return j + 2
        return skip(0) >= 0

    def call(self, *args):
        self.send(args)
        return self.read()

    def pipeline(self, cmds, chunk=5000):
        replies = []
        for i in range(0, len(cmds), chunk):
            part = cmds[i:i + chunk]
            self.send(*part)
            replies += [self.read() for _ in part]
        return replies


def urls():
    return os.environ["VENUELESS_REDIS_URLS"].split(",")


def shard(name, n):
    """channels_redis consistent_hash."""
    if n == 1:
        return 0
    return int((binascii.crc32(name.encode()) & 0xFFF) / (4096 / float(n)))


# ---------------------------------------------------------------- msgpack

class Unpacker:
    """A msgpack decoder written from the spec; maps keep their key order
    as a list of (key, value) pairs."""

    def __init__(self, data):
        self.d, self.i = data, 0

    def take(self, n):
        if self.i + n > len(self.d):
            raise ValueError("truncated msgpack")
        s = self.d[self.i:self.i + n]
        self.i += n
        return s

    def unpack(self, fmt):
        return struct.unpack(">" + fmt, self.take(struct.calcsize(fmt)))[0]

    def value(self):
        b = self.take(1)[0]
        if b <= 0x7F:
            return b
        if b >= 0xE0:
            return b - 0x100
        if 0x80 <= b <= 0x8F:
            return self.map(b & 0x0F)
        if 0x90 <= b <= 0x9F:
            return [self.value() for _ in range(b & 0x0F)]
        if 0xA0 <= b <= 0xBF:
            return ("str", self.take(b & 0x1F).decode())
        simple = {0xC0: None, 0xC2: False, 0xC3: True}
        if b in simple:
            return simple[b]
        if b in (0xC4, 0xC5, 0xC6):
            n = self.unpack({0xC4: "B", 0xC5: "H", 0xC6: "I"}[b])
            return ("bin", self.take(n))
        if b in (0xD9, 0xDA, 0xDB):
            n = self.unpack({0xD9: "B", 0xDA: "H", 0xDB: "I"}[b])
            return ("str", self.take(n).decode())
        ints = {0xCC: "B", 0xCD: "H", 0xCE: "I", 0xCF: "Q",
                0xD0: "b", 0xD1: "h", 0xD2: "i", 0xD3: "q", 0xCA: "f", 0xCB: "d"}
        if b in ints:
            return self.unpack(ints[b])
        if b in (0xDC, 0xDD):
            return [self.value() for _ in range(self.unpack("H" if b == 0xDC else "I"))]
        if b in (0xDE, 0xDF):
            return self.map(self.unpack("H" if b == 0xDE else "I"))
        raise ValueError("unexpected msgpack byte 0x%02x" % b)

    def map(self, n):
        return ("map", [(self.value(), self.value()) for _ in range(n)])


def decode(data):
    u = Unpacker(data)
    v = u.value()
    if u.i != len(data):
        raise ValueError("%d trailing bytes" % (len(data) - u.i))
    return v


def text(v, what):
    """A msgpack str (never bin) as a Python string."""
    if not (isinstance(v, tuple) and v[0] == "str"):
        raise ValueError("%s: expected a msgpack str, got %r" % (what, v))
    return v[1]


def message_fields(data, staggered=False, layer="default"):
    """Check one stored/published message; return (type, channels)."""
    if layer == "default":
        if len(data) < 13:
            raise ValueError("message shorter than its random prefix")
        data = data[12:]
    m = decode(data)
    if not (isinstance(m, tuple) and m[0] == "map"):
        raise ValueError("expected a map, got %r" % (m,))
    keys = [text(k, "map key") for k, _ in m[1]]
    want = ["type", "__asgi_channel__"] if layer == "default" else ["type"]
    if keys != want:
        raise ValueError("map keys %r, expected %r" % (keys, want))
    typ = text(m[1][0][1], "type")
    if layer != "default":
        return typ, None
    chans = m[1][1][1]
    if not isinstance(chans, list):
        raise ValueError("__asgi_channel__ is not an array")
    chans = [text(c, "channel") for c in chans]
    if staggered and len(chans) != 1:
        raise ValueError("staggered message lists %d channels" % len(chans))
    return typ, chans


# ---------------------------------------------------------------- commands

def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def register(out, label, procs, conns, pubsub=False, stale_members=0):
    """Join conns websockets of label spread over procs server processes."""
    n = len(urls())
    rs = [Redis(u) for u in urls()]
    now = time.time()
    channels = []
    proc_ids = [secrets.token_hex(16) for _ in range(procs)]
    for k in range(conns):
        pid = proc_ids[k % procs]
        if pubsub:
            channels.append(PREFIX + "specific." + secrets.token_hex(16))
        else:
            channels.append("specific.%s!%s" % (pid, secrets.token_hex(16)))
    stale = []
    for k in range(stale_members):
        pid = proc_ids[k % procs]
        if pubsub:
            stale.append(PREFIX + "specific." + secrets.token_hex(16))
        else:
            stale.append("specific.%s!%s" % (pid, secrets.token_hex(16)))
    if pubsub:
        key, kshard = "version." + label, 0
    else:
        key, kshard = PREFIX + ":group:version." + label, shard("version." + label, n)
    cmds = []
    for c in channels:
        cmds.append(("ZADD", key, repr(now) if not pubsub else int(now), c))
    for c in stale:
        cmds.append(("ZADD", key, int(now) - 86400 - 100, c))
    cmds.append(("EXPIRE", key, 86400))
    rs[kshard].pipeline(cmds)
    rs[0].pipeline([("HINCRBY", "connections", label, conns),
                    ("SETEX", "connections:" + label, LABEL_TTL, "exists")])
    with open(out, "w") as f:
        json.dump({"label": label, "pubsub": pubsub, "channels": channels,
                   "stale": stale, "group_key": key, "group_shard": kshard,
                   "procs": ["specific.%s!" % p for p in proc_ids]}, f)


def load(paths):
    exp = [json.load(open(p)) for p in paths]
    return exp


def check(paths, typ, staggered=False, absent=False):
    """Default layer: every channel got exactly one message of type typ
    in its process key on the right shard (absent: none at all)."""
    n = len(urls())
    rs = [Redis(u) for u in urls()]
    now = time.time()
    for e in load(paths):
        want = set(e["channels"])
        got = {}
        for proc in e["procs"]:
            s = shard(proc, n)
            key = PREFIX + proc
            for i, r in enumerate(rs):
                if i != s and r.call("EXISTS", key):
                    fail("%s also on shard %d (expected %d)" % (key, i, s))
            items = rs[s].call("ZRANGE", key, 0, -1, "WITHSCORES")
            if absent:
                if items:
                    fail("%s holds %d messages" % (key, len(items) // 2))
                continue
            if not items:
                fail("%s: no message on shard %d" % (key, s))
            ttl = rs[s].call("TTL", key)
            if not 0 < ttl <= 60:
                fail("%s: TTL %d" % (key, ttl))
            msgs = 0
            for data, score in zip(items[::2], items[1::2]):
                if data.startswith(b"filler"):
                    continue
                msgs += 1
                t, chans = message_fields(data, staggered)
                if t != typ:
                    fail("%s: type %s, expected %s" % (key, t, typ))
                if abs(float(score) - now) > 30:
                    fail("%s: score %s is not now (%f)" % (key, score, now))
                for c in chans:
                    if not c.startswith(proc):
                        fail("%s in the message of %s" % (c, key))
                    got[c] = got.get(c, 0) + 1
            if not staggered and msgs != 1:
                fail("%s: %d messages, expected one" % (key, msgs))
        if absent:
            continue
        for c in want:
            if got.get(c, 0) != 1:
                fail("%s got %d messages" % (c, got.get(c, 0)))
        extra = set(got) - want
        if extra:
            fail("unexpected channels got messages: %s" % sorted(extra)[:3])
        for c in e["stale"]:
            if c in got:
                fail("stale member %s got a message" % c)
    print("ok")


def subscribe(out, paths):
    """Subscribe every channel on its shard; record what arrives."""
    n = len(urls())
    rs = [Redis(u) for u in urls()]
    chans = [c for e in load(paths) for c in e["channels"] + e["stale"]]
    by = {}
    for c in chans:
        by.setdefault(shard(c, n), []).append(c)
    pending = {}
    for s, cs in by.items():
        for i in range(0, len(cs), 1000):
            rs[s].send(["SUBSCRIBE"] + cs[i:i + 1000])
        pending[s] = len(cs)
    for s, r in enumerate(rs):
        while pending.get(s, 0):
            r.read()
            pending[s] -= 1
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    print("ready", flush=True)
    got = []
    deadline = time.time() + 120
    want = sum(len(e["channels"]) for e in load(paths))
    socks = {r.sock: r for r in rs}
    while not stop and len(got) < want and time.time() < deadline:
        for r in rs:
            while r.buf:
                got.append(r.read())
        try:
            ready, _, _ = select.select(list(socks), [], [], 0.2)
        except InterruptedError:
            continue
        for s in ready:
            r = socks[s]
            r._fill()
            while b"\r\n" in r.buf:
                got.append(r.read())
    # give duplicates a moment to show up
    end = time.time() + 0.3
    while time.time() < end:
        ready, _, _ = select.select(list(socks), [], [], 0.05)
        for s in ready:
            socks[s]._fill()
            while b"\r\n" in socks[s].buf:
                got.append(socks[s].read())
    with open(out, "w") as f:
        json.dump([[m[1].decode(), m[2].hex()] for m in got
                   if m[0] == b"message"], f)


def verify_sub(out, paths, typ):
    got = {}
    for chan, data in json.load(open(out)):
        t, _ = message_fields(bytes.fromhex(data), layer="pubsub")
        if t != typ:
            fail("%s: type %s, expected %s" % (chan, t, typ))
        got[chan] = got.get(chan, 0) + 1
    for e in load(paths):
        for c in e["channels"]:
            if got.get(c, 0) != 1:
                fail("%s got %d messages" % (c, got.get(c, 0)))
        for c in e["stale"]:
            if c in got:
                fail("stale member %s got a message" % c)
    print("ok")


def wait_pop(paths, timeout):
    """Block on every process key (one connection each, like a server);
    print the wall time at which the last one received its message."""
    n = len(urls())
    procs = [p for e in load(paths) for p in e["procs"]]
    conns = []
    for p in procs:
        r = Redis(urls()[shard(p, n)])
        r.send(("BZPOPMIN", PREFIX + p, timeout))
        conns.append(r)
    print("ready", flush=True)
    # Read every reply as it completes, decode only afterwards, so the
    # time is when the last process key had its message.
    socks = {r.sock: r for r in conns}
    replies, last = {}, 0.0
    while len(replies) < len(conns):
        ready, _, _ = select.select([s for s, r in socks.items() if r not in replies],
                                    [], [], timeout)
        if not ready:
            fail("timed out waiting for a message")
        for s in ready:
            r = socks[s]
            r._fill()
            if r.complete():
                replies[r] = r.read()
                last = max(last, time.time())
    for v in replies.values():
        if v is None:
            fail("timed out waiting for a message")
        message_fields(v[1])
    print("%.6f" % last)


def join(out, groups, procs, conns, stale_members=0):
    """Join conns websockets of procs server processes to every group."""
    n = len(urls())
    rs = [Redis(u) for u in urls()]
    now = time.time()
    proc_ids = [secrets.token_hex(16) for _ in range(procs)]
    chans = ["specific.%s!%s" % (proc_ids[k % procs], secrets.token_hex(16))
             for k in range(conns)]
    stale = ["specific.%s!%s" % (proc_ids[k % procs], secrets.token_hex(16))
             for k in range(stale_members)]
    for g in groups:
        key = PREFIX + ":group:" + g
        cmds = [("ZADD", key, repr(now), c) for c in chans]
        cmds += [("ZADD", key, int(now) - 86400 - 100, c) for c in stale]
        cmds.append(("EXPIRE", key, 86400))
        rs[shard(g, n)].pipeline(cmds)
    with open(out, "w") as f:
        json.dump({"label": None, "pubsub": False, "channels": chans,
                   "stale": stale, "groups": groups,
                   "procs": ["specific.%s!" % p for p in proc_ids]}, f)


def plain(v):
    """A decoded msgpack value as JSON-able Python, maps as ordered dicts
    (json.dumps keeps insertion order); bin as {"bin": hex}."""
    if isinstance(v, tuple) and v[0] == "map":
        return {text(k, "map key"): plain(x) for k, x in v[1]}
    if isinstance(v, tuple) and v[0] == "str":
        return v[1]
    if isinstance(v, tuple) and v[0] == "bin":
        return {"bin": v[1].hex()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def group_messages(paths):
    n = len(urls())
    rs = [Redis(u) for u in urls()]
    lines = []
    for e in load(paths):
        for proc in e["procs"]:
            s = shard(proc, n)
            for i, r in enumerate(rs):
                if i != s and r.call("EXISTS", PREFIX + proc):
                    fail("%s also on shard %d (expected %d)" % (proc, i, s))
            for data in rs[s].call("ZRANGE", PREFIX + proc, 0, -1):
                m = plain(decode(data[12:]))
                if "__asgi_channel__" in m:
                    m["__asgi_channel__"] = sorted(m["__asgi_channel__"])
                lines.append(json.dumps(m))
    for line in sorted(lines):
        print(line)


def group_subscribe(out, count, groups):
    n = len(urls())
    rs = [Redis(u) for u in urls()]
    for g in groups:
        chan = PREFIX + "__group__" + g
        r = rs[shard(chan, n)]
        r.send(["SUBSCRIBE", chan])
        r.read()
    print("ready", flush=True)
    got, deadline = [], time.time() + 60
    socks = {r.sock: r for r in rs}
    while len(got) < count and time.time() < deadline:
        for r in rs:
            while r.buf and b"\r\n" in r.buf and len(got) < count:
                got.append(r.read())
        ready, _, _ = select.select(list(socks), [], [], 0.2)
        for sk in ready:
            socks[sk]._fill()
    with open(out, "w") as f:
        for m in got:
            f.write(json.dumps([m[1].decode(), m[2].hex(), plain(decode(m[2]))]) + "\n")


def main(argv):
    cmd, args = argv[1], argv[2:]
    opts, pos = {}, []
    i = 0
    while i < len(args):
        if args[i] in ("--pubsub", "--staggered", "--absent"):
            opts[args[i][2:]] = True
        elif args[i].startswith("--"):
            opts[args[i][2:]] = args[i + 1]
            i += 1
        else:
            pos.append(args[i])
        i += 1
    if cmd == "register":
        register(pos[0], opts["label"], int(opts.get("procs", 1)),
                 int(opts["conns"]), opts.get("pubsub", False),
                 int(opts.get("stale-members", 0)))
    elif cmd == "check":
        check(pos, opts.get("type"), opts.get("staggered", False),
              opts.get("absent", False))
    elif cmd == "subscribe":
        subscribe(pos[0], pos[1:])
    elif cmd == "verify-sub":
        verify_sub(pos[0], pos[1:], opts["type"])
    elif cmd == "join":
        join(pos[0], opts["groups"].split(","), int(opts.get("procs", 1)),
             int(opts["conns"]), int(opts.get("stale-members", 0)))
    elif cmd == "group-messages":
        group_messages(pos)
    elif cmd == "group-subscribe":
        group_subscribe(pos[0], int(pos[1]), pos[2:])
    elif cmd == "wait-pop":
        wait_pop(pos, int(opts.get("timeout", 30)))
    else:
        fail("unknown command " + cmd)


if __name__ == "__main__":
    try:
        main(sys.argv)
    except (ValueError, RuntimeError, EOFError) as e:
        fail(str(e))
