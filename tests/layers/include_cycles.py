#!/usr/bin/env python3
"""Lists, for each module of a folder (x.c and x.h together), the modules of
the same folder whose headers it includes, and fails (exit 1, naming them)
when some include each other in a circle.

Usage: tests/layers/include_cycles.py FOLDER [--list]"""

import os
import re
import sys


def graph(folder):
    name = os.path.basename(os.path.normpath(folder))
    mods = {}
    for f in sorted(os.listdir(folder)):
        base, ext = os.path.splitext(f)
        if ext in (".c", ".h"):
            mods.setdefault(base, []).append(os.path.join(folder, f))
    pat = re.compile(r'#include "%s/([A-Za-z0-9_]+)\.h"' % re.escape(name))
    g = {}
    for m, files in mods.items():
        g[m] = set()
        for f in files:
            with open(f, encoding="utf-8") as fh:
                g[m] |= {i for i in pat.findall(fh.read()) if i != m}
    return g


def circles(g):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in g:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    g = graph(sys.argv[1])
    if "--list" in sys.argv:
        for m in sorted(g):
            print("%s -> %s" % (m, " ".join(sorted(g[m])) or "-"))
    found = circles(g)
    for c in found:
        print("include circle: %s" % " <-> ".join(c))
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
