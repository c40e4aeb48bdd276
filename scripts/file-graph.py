#!/usr/bin/env python3
"""Draw src/'s file import graph from the object files and report circles of files.

A file A depends on file B when A's object uses a symbol that B's object defines
(read with `nm`). A circle is a strongly connected set of two or more files: the
files in it call each other, so none can be read or tested without the others.

Usage: scripts/file-graph.py BUILD_DIR [--dot]   (exit 1 when there is a circle)
"""
import os
import subprocess
import sys


def objects(build):
    out = []
    for root, _, files in os.walk(os.path.join(build, "src")):
        for f in files:
            if f.endswith(".c.o"):
                out.append(os.path.join(root, f))
    return sorted(out)


def source_of(obj):
    # build/src/fw/libjitgate-fw.a.p/fw-local.c.o -> src/fw/fw-local.c
    parts = obj.split(os.sep)
    i = parts.index("src")
    return "/".join(parts[i:i + 2] + [parts[-1][:-2]])


def symbols(obj):
    text = subprocess.run(["nm", obj], check=True, capture_output=True, text=True).stdout
    defined, used = set(), set()
    for line in text.splitlines():
        f = line.split()
        if len(f) == 2 and f[0] == "U":
            used.add(f[1])
        elif len(f) == 3 and f[1] in "TDBR":
            defined.add(f[2])
    return defined, used


def circles(graph):
    # Tarjan's strongly connected components, iterative.
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = n[0]; n[0] += 1; stack.append(start); on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        x = stack.pop(); on.discard(x); comp.append(x)
                        if x == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
            elif w not in index:
                index[w] = low[w] = n[0]; n[0] += 1; stack.append(w); on.add(w)
                work.append((w, iter(sorted(graph[w]))))
            elif w in on:
                low[v] = min(low[v], index[w])
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    objs = objects(sys.argv[1])
    # A file compiled into two libraries (or programs) counts once.
    info = {}
    for o in objs:
        d, u = symbols(o)
        s = source_of(o)
        pd, pu = info.get(s, (set(), set()))
        info[s] = (pd | d, pu | u)
    owners = {}
    for s, (d, _) in info.items():
        for sym in d:
            owners.setdefault(sym, []).append(s)
    graph = {s: set() for s in info}
    for s, (_, u) in info.items():
        for sym in u:
            cands = owners.get(sym, [])
            # Two programs may each define a symbol of the same name (jitgated's and the CLI's
            # cmd_token): a file links against the one in its own folder when there is one.
            near = [t for t in cands if os.path.dirname(t) == os.path.dirname(s)]
            for t in (near or cands):
                if t != s:
                    graph[s].add(t)
    if "--dot" in sys.argv:
        print("digraph src {")
        for s in sorted(graph):
            for t in sorted(graph[s]):
                print(f'  "{s}" -> "{t}";')
        print("}")
    found = circles(graph)
    for c in found:
        print("circle: " + " <-> ".join(c), file=sys.stderr)
    print(f"file-graph: {len(graph)} files, {sum(len(v) for v in graph.values())} edges, {len(found)} circles",
          file=sys.stderr)
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
