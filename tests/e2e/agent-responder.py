#!/usr/bin/env python3
# A small HTTPS responder for tests/e2e/agent-net.sh: NOT jitgated and no model of its semantics. It answers the
# agent protocol's three paths (doc/agent-protocol.md) with fixed bodies the test script writes into DIR, so that
# jitgate-agent's client (TLS, pinning, long poll, backoff, size caps) runs for real. The real server is covered by
# the fleet e2e once branch srv (src/api/api-agents.c) lands.
#
#   DIR/join.code, DIR/join.body     the answer to POST /agent/v1/join
#   DIR/state.code (default 200), DIR/state.rev, DIR/state.body
#                                    GET /agent/v1{VM}/state?since=N: at once when state.rev > N (or N is -1),
#                                    else held until state.rev moves, state.code is not 200 or HOLD_MS pass
#   POST /agent/v1{VM}/status        DIR/status.code (default 204); the body appended to DIR/status.log, then
#                                    the answer held DIR/status.delay_ms (default 0)
# Every request: "METHOD PATH AUTH host=HOST" appended to DIR/requests.log.
import os, ssl, sys, time, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

addr, port, cert, key, d, hold_ms = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
lock = threading.Lock()

def read(name, default=b""):
    try:
        with open(os.path.join(d, name), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return default

def log(name, line):
    with lock, open(os.path.join(d, name), "ab") as f:
        f.write(line + b"\n")

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, code, body=b""):
        self.send_response(code)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def note(self):
        log("requests.log", ("%s %s %s host=%s" % (self.command, self.path, self.headers.get("Authorization", "-"),
                                                  self.headers.get("Host", "-"))).encode())

    def do_POST(self):
        self.note()
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        path = urlsplit(self.path).path
        if path == "/agent/v1/join":
            log("join.log", body)
            return self.answer(int(read("join.code", b"201")), read("join.body"))
        if path.startswith("/agent/v1/subscriptions/") and path.endswith("/status"):
            log("status.log", body)
            time.sleep(int(read("status.delay_ms", b"0")) / 1000)
            code = int(read("status.code", b"204"))
            return self.answer(code, b'{"error":{"code":"InvalidRequestContent","message":"test refusal"}}'
                               if code != 204 else b"")
        self.answer(404, b'{"error":{"code":"NotFound","message":"no such path"}}')

    def do_GET(self):
        self.note()
        u = urlsplit(self.path)
        if not (u.path.startswith("/agent/v1/subscriptions/") and u.path.endswith("/state")):
            return self.answer(404, b'{"error":{"code":"NotFound","message":"no such path"}}')
        since = int(parse_qs(u.query).get("since", ["-1"])[0])
        end = time.monotonic() + hold_ms / 1000
        while since >= 0 and int(read("state.rev", b"0")) <= since and time.monotonic() < end and \
                read("state.code", b"200") == b"200":
            time.sleep(0.05)
        code = int(read("state.code", b"200"))
        if code != 200:
            return self.answer(code, b'{"error":{"code":"Test","message":"the responder says %d"}}' % code)
        self.answer(200, read("state.body"))

srv = ThreadingHTTPServer((addr, port), H)
srv.daemon_threads = True
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("listening", flush=True)
srv.serve_forever()
