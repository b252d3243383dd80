#!/usr/bin/env python3
"""Fails when the modules of a crate import each other in a cycle.

Reads every `crates/*/src` and `kernels/src` tree, maps each file to its module path
(`run`, `cube::spectrum`), and draws an edge from a module to every module it names through
`crate::...` or `super::...` (in `use` lines and in code; comments are skipped). The crate
root (lib.rs / main.rs) only declares and re-exports, so it is left out. Prints every cycle
(a strongly connected set of modules) and exits 1 if there is one. Run by scripts/test.sh.

    python3 scripts/module_cycles.py [ROOT]
"""

import pathlib
import re
import sys

PATH = re.compile(r"\b(crate|super)::((?:\w+::)*)(\{|\w+)")


def module_of(src, f):
    parts = list(f.relative_to(src).with_suffix("").parts)
    if parts[-1] == "mod":
        parts.pop()
    if parts in (["lib"], ["main"]):
        return None
    return "::".join(parts)


def braced(text, start):
    """The top-level items of the `{...}` that opens at text[start]."""
    depth, item, items = 0, "", []
    for ch in text[start:]:
        if ch == "{":
            depth += 1
            if depth == 1:
                continue
        elif ch == "}":
            depth -= 1
            if depth == 0:
                items.append(item)
                break
        if ch == "," and depth == 1:
            items.append(item)
            item = ""
        else:
            item += ch
    return [i.strip() for i in items if i.strip()]


def resolve(mods, base, segments):
    """The longest prefix of base + segments that is a module of the crate."""
    path = base + segments
    for n in range(len(path), 0, -1):
        m = "::".join(path[:n])
        if m in mods:
            return m
    return None


def edges(src):
    files = {module_of(src, f): f for f in src.rglob("*.rs")}
    files.pop(None, None)
    mods = set(files)
    out = {m: set() for m in mods}
    for m, f in files.items():
        code = re.sub(r"//[^\n]*", "", f.read_text())
        here = m.split("::")
        parent = here[:-1] if f.name != "mod.rs" else here[:-1]
        for mt in PATH.finditer(code):
            kind, prefix, last = mt.groups()
            base = [] if kind == "crate" else parent
            segs = [s for s in prefix.split("::") if s]
            targets = []
            if last == "{":
                for item in braced(code, mt.end() - 1):
                    first = re.match(r"\w+", item)
                    if first:
                        targets.append(segs + [first.group(0)])
            else:
                targets.append(segs + [last])
            for t in targets:
                r = resolve(mods, base, t)
                if r and r != m and not r.startswith(m + "::") and not m.startswith(r + "::"):
                    out[m].add(r)
    return out


def cycles(graph):
    """Strongly connected sets of more than one module (Tarjan)."""
    index, low, stack, on, found, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
                found.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    srcs = sorted(root.glob("crates/*/src")) + [root / "kernels/src"]
    bad = 0
    for src in srcs:
        graph = edges(src)
        for comp in cycles(graph):
            bad += 1
            links = [f"{a} -> {b}" for a in comp for b in sorted(graph[a]) if b in comp]
            print(f"{src.parent.name}: modules import each other in a cycle: {', '.join(links)}")
    if bad:
        sys.exit(1)
    print(f"module_cycles: no import cycle in {len(srcs)} crates")


if __name__ == "__main__":
    main()
