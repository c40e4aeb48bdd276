#!/usr/bin/env python3
"""A PostgreSQL unix-socket relay that loses connections on cue, for tests/e2e/pg-session.sh.

Usage: pg-cut-proxy.py LISTEN_DIR SERVER_DIR CONTROL_FILE LOG_FILE
Listens on LISTEN_DIR/.s.PGSQL.5432 and relays each connection to SERVER_DIR/.s.PGSQL.5432 unchanged.
When CONTROL_FILE says "cut" (the test writes it; checked every 20 ms), every relayed connection is closed
at once (a server gone, as in a failover) and the next new connection is closed at its first simple query
(the 'Q' message after the start-up exchange: jitgated's session set-up after a reconnect, a server lost
again at once); then the file is emptied and relaying goes on as before. Each cut is a line in LOG_FILE.
"""
import os
import select
import socket
import struct
import sys
import threading

listen_dir, server_dir, control, log_path = sys.argv[1:5]
SOCK = ".s.PGSQL.5432"
POLL_S = 0.02          # how often the control file is read
BUF = 65536            # bytes relayed per read

lock = threading.Lock()
conns = set()          # (client, server) pairs being relayed
cut_next = False       # the next new connection is closed at its first 'Q'


def log(line):
    with open(log_path, "a") as f:
        f.write(line + "\n")


def close_pair(pair):
    for s in pair:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


def relay(client, cut_first_query):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.connect(os.path.join(server_dir, SOCK))
    except OSError:
        client.close()
        return
    pair = (client, server)
    with lock:
        conns.add(pair)
    buf = b""
    started = False    # the start-up packet (no type byte) has passed
    try:
        while True:
            r, _, _ = select.select([client, server], [], [], 1.0)
            if server in r:
                data = server.recv(BUF)
                if not data:
                    break
                client.sendall(data)
            if client in r:
                data = client.recv(BUF)
                if not data:
                    break
                if cut_first_query:
                    # read whole messages: the start-up packet, then type byte + length
                    buf += data
                    out = b""
                    while True:
                        if not started:
                            if len(buf) < 4:
                                break
                            n = struct.unpack("!I", buf[:4])[0]
                            if len(buf) < n:
                                break
                            out, buf, started = out + buf[:n], buf[n:], True
                            continue
                        if len(buf) < 5:
                            break
                        if buf[:1] == b"Q":
                            log("cut a new connection at its first query")
                            server.sendall(out)
                            return
                        n = struct.unpack("!I", buf[1:5])[0]
                        if len(buf) < n + 1:
                            break
                        out, buf = out + buf[:n + 1], buf[n + 1:]
                    server.sendall(out)
                else:
                    server.sendall(data)
    except OSError:
        pass
    finally:
        with lock:
            conns.discard(pair)
        close_pair(pair)


def watch():
    global cut_next
    while True:
        try:
            with open(control) as f:
                cue = f.read().strip()
        except OSError:
            cue = ""
        if cue == "cut":
            with lock:
                old = list(conns)
                cut_next = True
            for pair in old:
                close_pair(pair)
            log("cut %d relayed connection(s)" % len(old))
            with open(control, "w"):
                pass
        threading.Event().wait(POLL_S)


def main():
    global cut_next
    path = os.path.join(listen_dir, SOCK)
    if os.path.exists(path):
        os.unlink(path)
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(path)
    os.chmod(path, 0o777)
    ls.listen(64)
    threading.Thread(target=watch, daemon=True).start()
    print("listening", flush=True)
    while True:
        client, _ = ls.accept()
        with lock:
            cut = cut_next
            cut_next = False
        threading.Thread(target=relay, args=(client, cut), daemon=True).start()


main()
