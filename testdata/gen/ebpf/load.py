#!/usr/bin/env python3
"""Load for app.py: CONC keep-alive connections, each sending REQUESTS
sequential GET /r/ID requests; prints "requests N seconds S rps R".
Bounded: stops after the requests or --timeout seconds."""
import argparse
import http.client
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default="10.241.7.2:8080")
    ap.add_argument("--conc", type=int, default=8)
    ap.add_argument("--requests", type=int, default=25, help="per connection")
    ap.add_argument("--prefix", default="x")
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    host, port = a.target.rsplit(":", 1)
    done = [0] * a.conc
    deadline = time.monotonic() + a.timeout

    def worker(w):
        c = http.client.HTTPConnection(host, int(port), timeout=10)
        for i in range(a.requests):
            if time.monotonic() > deadline:
                break
            c.request("GET", "/r/%s%d-%d" % (a.prefix, w, i))
            r = c.getresponse()
            r.read()
            done[w] += 1
        c.close()

    start = time.monotonic()
    ts = [threading.Thread(target=worker, args=(w,)) for w in range(a.conc)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    el = time.monotonic() - start
    n = sum(done)
    print("requests %d seconds %.3f rps %.1f" % (n, el, n / el))


if __name__ == "__main__":
    main()
