#!/usr/bin/env python3
"""A thread-per-connection HTTP server that calls Redis, for the eBPF test.

GET /r/ID makes CALLS Redis calls (SET, GET, ...) on connections taken from
a pool shared by all threads, sleeping a little between them, and answers
200. Nothing on the wire ties a Redis call to its request, so only timing
(or the thread, with the eBPF extension) can link them.

Logs, one line each, to --log (the test's ground truth):
  req ID PID TID                 the thread that handled request ID
  call ID LOCALPORT N            request ID made the N-th call (from 0) on
                                 the Redis connection from LOCALPORT
"""
import argparse
import os
import queue
import random
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Redis:
    """A minimal RESP client on one connection."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.port = self.sock.getsockname()[1]
        self.calls = 0
        self.buf = b""

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        n = self.calls
        self.calls += 1
        return n, self.reply()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self.line()
        if line[:1] == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        return line


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="0.0.0.0:8080")
    ap.add_argument("--redis", default="127.0.0.1:6379")
    ap.add_argument("--pool", type=int, default=3)
    ap.add_argument("--calls", type=int, default=2)
    ap.add_argument("--sleep-ms", type=float, default=2.0)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    rhost, rport = a.redis.rsplit(":", 1)
    pool = queue.Queue()
    for _ in range(a.pool):
        pool.put(Redis(rhost, int(rport)))
    log = open(a.log, "w", buffering=1)
    log_mu = threading.Lock()

    def record(line):
        with log_mu:
            log.write(line + "\n")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            # Headers and body are two writes: no Nagle wait between.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args):
            pass

        def do_GET(self):
            rid = self.path.rsplit("/", 1)[-1]
            record("req %s %d %d" % (rid, os.getpid(), threading.get_native_id()))
            for i in range(a.calls):
                time.sleep(random.uniform(0, a.sleep_ms) / 1000)
                r = pool.get()
                try:
                    if i % 2 == 0:
                        n, _ = r.call("SET", "k" + rid, "v" * 16)
                    else:
                        n, _ = r.call("GET", "k" + rid)
                    record("call %s %d %d" % (rid, r.port, n))
                finally:
                    pool.put(r)
            body = b"ok\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    host, port = a.listen.rsplit(":", 1)
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer((host, int(port)), Handler)
    record("ready %d" % os.getpid())
    srv.serve_forever()


if __name__ == "__main__":
    main()
