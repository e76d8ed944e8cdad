#!/usr/bin/python3
"""Move one file over one TCP connection, for vole's interop tests.

    tcpblob.py listen  HOST PORT send|recv FILE [--bytes N] [--timeout S]
    tcpblob.py connect HOST PORT send|recv FILE [--bytes N] [--timeout S]
    tcpblob.py echo-server HOST PORT
    tcpblob.py probe HOST PORT [--timeout S]

listen accepts exactly one connection.  "send" writes FILE then half-closes
and waits (bounded) for the peer to close; "recv" stores what arrives into
FILE until EOF, or until N bytes when --bytes is given (so the test does not
depend on FIN propagation).  echo-server echoes every connection until
killed; probe sends a short token and exits 0 when the echo comes back.
"""
import argparse
import os
import socket
import sys
import time


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def do_send(conn, path, timeout):
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        sent = 0
        while sent < size:
            n = conn.sendfile(f, sent, size - sent)
            if n == 0:
                break
            sent += n
    conn.shutdown(socket.SHUT_WR)
    # wait for the receiver to close (it does after N bytes or EOF)
    conn.settimeout(timeout)
    try:
        while conn.recv(65536):
            pass
    except (socket.timeout, OSError):
        pass
    return sent


def do_recv(conn, path, limit):
    got = 0
    with open(path, "wb") as f:
        while limit is None or got < limit:
            want = 1 << 20 if limit is None else min(1 << 20, limit - got)
            data = conn.recv(want)
            if not data:
                break
            f.write(data)
            got += len(data)
    return got


def transfer(args, conn):
    conn.settimeout(args.timeout)
    t0 = time.monotonic()
    if args.direction == "send":
        n = do_send(conn, args.file, args.timeout)
    else:
        n = do_recv(conn, args.file, args.bytes)
    dt = time.monotonic() - t0
    conn.close()
    rate = n * 8 / dt / 1e6 if dt > 0 else 0.0
    print("%s %d bytes in %.2f s (%.0f Mbit/s)" % (args.direction, n, dt, rate))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["listen", "connect", "echo-server", "probe"])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("direction", nargs="?", choices=["send", "recv"])
    p.add_argument("file", nargs="?")
    p.add_argument("--bytes", type=int)
    p.add_argument("--timeout", type=float, default=120.0)
    args = p.parse_args()
    fam = family_of(args.host)

    if args.mode in ("listen", "echo-server"):
        srv = socket.socket(fam, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((args.host, args.port))
        srv.listen(16)
        if args.mode == "listen":
            srv.settimeout(args.timeout)
            conn, _ = srv.accept()
            srv.close()
            transfer(args, conn)
            return 0
        while True:
            conn, _ = srv.accept()
            conn.settimeout(5)
            try:
                data = conn.recv(4096)
                if data:
                    conn.sendall(data)
            except OSError:
                pass
            conn.close()

    if args.mode == "probe":
        token = b"vole-probe %d\n" % os.getpid()
        try:
            conn = socket.create_connection((args.host, args.port), timeout=args.timeout)
            conn.sendall(token)
            got = b""
            while len(got) < len(token):
                data = conn.recv(4096)
                if not data:
                    break
                got += data
            conn.close()
        except OSError as e:
            print("probe: %s" % e, file=sys.stderr)
            return 1
        return 0 if got == token else 1

    conn = socket.create_connection((args.host, args.port), timeout=args.timeout)
    transfer(args, conn)
    return 0


if __name__ == "__main__":
    sys.exit(main())
