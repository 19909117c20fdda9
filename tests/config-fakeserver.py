#!/usr/bin/env python3
# tests/config-fakeserver.py DIR: stands in for the PostgreSQL and Redis
# servers a stray config file would point at (tests/config-stray.sh).
# PostgreSQL on the unix socket DIR/.s.PGSQL.5432 (asks for a cleartext
# password), Redis on 127.0.0.1 at a free port (written to DIR/redis.port);
# every byte a client sends is appended to DIR/got. DIR/ready appears when
# both listen. Standard library only.
import os
import socket
import struct
import sys
import threading

top = sys.argv[1]
lock = threading.Lock()


def record(data):
    with lock, open(os.path.join(top, "got"), "ab") as f:
        f.write(data)


def read_some(conn):
    data = conn.recv(65536)
    record(data)
    return data


def serve_pg(conn):
    # Startup packet (and nothing before it on a unix socket), then ask
    # for a cleartext password and keep what comes back.
    if read_some(conn):
        conn.sendall(b"R" + struct.pack("!ii", 8, 3))
        read_some(conn)


def serve_redis(conn):
    # hiredis sends AUTH first: keep it and hang up.
    read_some(conn)


def loop(sock, serve):
    while True:
        conn, _ = sock.accept()
        try:
            conn.settimeout(5)
            serve(conn)
        except OSError:
            pass
        finally:
            conn.close()


pg = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
pg.bind(os.path.join(top, ".s.PGSQL.5432"))
pg.listen(8)
rd = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
rd.bind(("127.0.0.1", 0))
rd.listen(8)
with open(os.path.join(top, "redis.port"), "w") as f:
    f.write(str(rd.getsockname()[1]))
for s, fn in ((pg, serve_pg), (rd, serve_redis)):
    threading.Thread(target=loop, args=(s, fn), daemon=True).start()
open(os.path.join(top, "ready"), "w").close()
threading.Event().wait()
