#!/usr/bin/python3
"""Probe what a router namespace does to UDP and TCP, without vole.

Run as root.  The probe opens sockets directly inside the test's network
namespaces (setns before each socket is created), so one process plays both
the host behind the router and the hosts on the internet side:

    natprobe.py udp CLIENT_NS SERVER_NS CPORT STEP...
        one UDP socket on 0.0.0.0:CPORT in CLIENT_NS; each STEP is
        out:IP:PORT  the client sends to IP:PORT (a socket bound there in
                     SERVER_NS): prints "out IP:PORT mapped ADDR:PORT reply
                     yes|no" (the source address the server saw, and whether
                     its answer from IP:PORT came back), or "out IP:PORT none"
        in:IP:PORT   a socket bound at IP:PORT in SERVER_NS sends, unsolicited,
                     to the last mapped address: "in IP:PORT received|dropped"
        to:IP:PORT   take IP:PORT as the mapped address (a mapping an earlier
                     run made: conntrack outlives the probe's sockets)
    natprobe.py tcp CLIENT_NS SERVER_NS IP:PORT
        a TCP listener at IP:PORT in SERVER_NS, one connect from CLIENT_NS:
        "tcp IP:PORT connected|failed"
    natprobe.py ct-flush
        delete every conntrack entry (IPv4) of the namespace it runs in, over
        ctnetlink (the same request `conntrack -F` sends); exit 0 on success

Every wait is bounded (a few hundred ms per step, three sends per step).
"""
import ctypes
import os
import select
import socket
import struct
import sys

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_home = None


def setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "setns %s: %s" % (path, os.strerror(err)))
    finally:
        os.close(fd)


def sock_in(ns, kind, addr=None):
    """A socket created inside namespace NS (bound to ADDR when given)."""
    setns("/run/netns/" + ns)
    try:
        s = socket.socket(socket.AF_INET, kind)
    finally:
        setns(_home)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if addr is not None:
        s.bind(addr)
    return s


def hostport(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def recv_from(sock, want_src, wait):
    """The first datagram from WANT_SRC (any source if None) within WAIT s."""
    while True:
        r, _, _ = select.select([sock], [], [], wait)
        if not r:
            return None
        data, src = sock.recvfrom(2048)
        if want_src is None or src == want_src:
            return data, src


def step_out(client, server_ns, dst):
    srv = sock_in(server_ns, socket.SOCK_DGRAM, dst)
    try:
        for _ in range(3):
            client.sendto(b"probe", dst)
            got = recv_from(srv, None, 0.3)
            if got is None:
                continue
            mapped = got[1]
            srv.sendto(b"back", mapped)
            back = recv_from(client, dst, 0.3)
            print("out %s:%d mapped %s:%d reply %s" %
                  (dst[0], dst[1], mapped[0], mapped[1], "yes" if back else "no"))
            return mapped
        print("out %s:%d none" % dst)
        return None
    finally:
        srv.close()


def step_in(client, server_ns, src, mapped):
    if mapped is None:
        print("in %s:%d dropped (no mapping to send to)" % src)
        return
    srv = sock_in(server_ns, socket.SOCK_DGRAM, src)
    try:
        for _ in range(3):
            srv.sendto(b"unsolicited", mapped)
            if recv_from(client, src, 0.3):
                print("in %s:%d received" % src)
                return
        print("in %s:%d dropped" % src)
    finally:
        srv.close()


def cmd_udp(client_ns, server_ns, cport, steps):
    client = sock_in(client_ns, socket.SOCK_DGRAM, ("0.0.0.0", int(cport)))
    mapped = None
    for st in steps:
        kind, _, where = st.partition(":")
        if kind == "out":
            mapped = step_out(client, server_ns, hostport(where))
        elif kind == "to":
            mapped = hostport(where)
        elif kind == "in":
            step_in(client, server_ns, hostport(where), mapped)
        else:
            print("bad step %r" % st, file=sys.stderr)
            return 2
    return 0


def cmd_tcp(client_ns, server_ns, where):
    dst = hostport(where)
    lst = sock_in(server_ns, socket.SOCK_STREAM, dst)
    lst.listen(1)
    c = sock_in(client_ns, socket.SOCK_STREAM)
    c.settimeout(2)
    try:
        c.connect(dst)
        print("tcp %s:%d connected" % dst)
    except OSError as e:
        print("tcp %s:%d failed (%s)" % (dst[0], dst[1], e))
    c.close()
    lst.close()
    return 0


def cmd_ct_flush():
    # nlmsghdr + nfgenmsg: IPCTNL_MSG_CT_DELETE (2) of NFNL_SUBSYS_CTNETLINK
    # (1) with no attributes deletes the whole table; NLM_F_REQUEST|NLM_F_ACK.
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
    s.settimeout(2)
    s.bind((0, 0))
    body = struct.pack("=BBH", socket.AF_INET, 0, 0)
    s.send(struct.pack("=IHHII", 16 + len(body), (1 << 8) | 2, 1 | 4, 1, 0) + body)
    ack = s.recv(4096)
    if len(ack) < 20 or struct.unpack_from("=H", ack, 4)[0] != 2:  # NLMSG_ERROR
        print("ct-flush: unexpected netlink answer", file=sys.stderr)
        return 1
    err = struct.unpack_from("=i", ack, 16)[0]
    if err != 0:
        print("ct-flush: %s" % os.strerror(-err), file=sys.stderr)
        return 1
    return 0


def main(argv):
    global _home
    _home = "/proc/%d/ns/net" % os.getpid()
    # keep a handle on our own namespace to come back to
    _home = "/proc/self/fd/%d" % os.open(_home, os.O_RDONLY)
    if len(argv) >= 5 and argv[1] == "udp":
        return cmd_udp(argv[2], argv[3], argv[4], argv[5:])
    if len(argv) == 5 and argv[1] == "tcp":
        return cmd_tcp(argv[2], argv[3], argv[4])
    if len(argv) == 2 and argv[1] == "ct-flush":
        return cmd_ct_flush()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
