#!/usr/bin/python3
"""Send a file over one TCP connection at a bounded rate, for the scenario
tests that change the network in the middle of a transfer.

    pacedsend.py HOST PORT FILE --rate BYTES_PER_SECOND [--timeout S]

Sends FILE in 16 KiB writes, never ahead of RATE, then half-closes and waits
(bounded) for the receiver to close.  Prints "sent N bytes in T s" and exits
0 when the whole file was written; 1 on an error or when TIMEOUT (default
120 s) passes first.
"""
import argparse
import os
import socket
import sys
import time

CHUNK = 16384


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("file")
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--timeout", type=float, default=120.0)
    a = p.parse_args()
    t0 = time.monotonic()
    deadline = t0 + a.timeout
    size = os.path.getsize(a.file)
    sent = 0
    try:
        conn = socket.create_connection((a.host, a.port), timeout=10)
        with open(a.file, "rb") as f:
            while sent < size:
                ahead = sent / a.rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("timed out")
                conn.settimeout(left)
                conn.sendall(f.read(CHUNK))
                sent = f.tell()
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(max(1.0, deadline - time.monotonic()))
        while conn.recv(65536):
            pass
        conn.close()
    except OSError as e:
        print("sent %d of %d bytes, then: %s" % (sent, size, e))
        return 1
    print("sent %d bytes in %.2f s" % (sent, time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
