#!/usr/bin/env python3
"""A webhook receiver for tests/e2e/webhooks.sh: records each delivery (headers, body) as one JSON line.

Usage: webhook-receiver.py ADDR PORT OUT [--delay S] [--status CODE] [--location URL] [--answer-bytes N]
                           [--cert PEM --key PEM]
It records a delivery before answering, so --delay makes a slow receiver whose deliveries still count.
--location answers with that Location header (a redirect, with --status 302 or 307) and records every attempt.
Any method is recorded (a redirect followed as a GET would be seen too).
"""
import argparse
import http.server
import json
import ssl
import time

ap = argparse.ArgumentParser()
ap.add_argument("addr")
ap.add_argument("port", type=int)
ap.add_argument("out")
ap.add_argument("--delay", type=float, default=0)
ap.add_argument("--status", type=int, default=200)
ap.add_argument("--answer-bytes", type=int, default=2)
ap.add_argument("--location")
ap.add_argument("--cert")
ap.add_argument("--key")
args = ap.parse_args()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        rec = {
            "time": time.time(),
            "peer": self.client_address[0],
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
        }
        if args.status // 100 == 2 or args.location:
            with open(args.out, "a") as f:
                f.write(json.dumps(rec) + "\n")
        if args.delay:
            time.sleep(args.delay)
        try:
            self.send_response(args.status)
            if args.location:
                self.send_header("Location", args.location)
            self.send_header("Content-Length", str(args.answer_bytes))
            self.send_header("Connection", "close")
            self.end_headers()
            left = args.answer_bytes
            chunk = b"x" * 65536
            while left > 0:
                self.wfile.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_PUT = do_DELETE = do_POST

    def log_message(self, *a):
        pass


srv = http.server.HTTPServer((args.addr, args.port), Handler)
if args.cert:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("listening", flush=True)
srv.serve_forever()
