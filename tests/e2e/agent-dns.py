#!/usr/bin/env python3
# A tiny DNS answerer for tests/e2e/agent-net.sh and agent-hostile.sh: over UDP on ADDR:53, every A question for a
# name under jit.test gets ANSWER (TTL 60); anything else an empty NOERROR answer. Each question is appended to LOG.
# With a fourth argument "silent" it answers nothing at all (a DNS server that is down or dropped). Not a DNS server.
# usage: agent-dns.py ADDR ANSWER LOG [silent]
import socket, struct, sys

addr, answer, logpath = sys.argv[1], socket.inet_aton(sys.argv[2]), sys.argv[3]
silent = sys.argv[4:] == ["silent"]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, 53))
print("listening", flush=True)
while True:
    q, peer = s.recvfrom(512)
    if len(q) < 12:
        continue
    i, labels = 12, []
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode(errors="replace"))
        i += 1 + q[i]
    qtype = struct.unpack("!H", q[i + 1:i + 3])[0] if i + 5 <= len(q) else 0
    name = ".".join(labels).lower()
    question = q[12:i + 5]
    with open(logpath, "a") as f:
        f.write("%s %d\n" % (name, qtype))
    if silent:
        continue
    hit = qtype == 1 and (name == "jit.test" or name.endswith(".jit.test"))
    head = q[:2] + struct.pack("!HHHHH", 0x8180, 1, 1 if hit else 0, 0, 0)
    rr = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + answer if hit else b""
    s.sendto(head + question + rr, peer)
