"""List the functions in firmware/ longer than a limit (default 80 lines).

    python tools/funclen.py [LIMIT]       # exit status 1 when one is over the limit

Issue #15: no function in firmware/ over ~80 lines (a newcomer reads each on one screen)."""
import ast
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware")


def long_functions(limit=80, root=ROOT):
    out = []
    for d, _, files in os.walk(root):
        for f in sorted(files):
            if not f.endswith(".py"):
                continue
            p = os.path.join(d, f)
            with open(p) as fh:
                tree = ast.parse(fh.read())
            for n in ast.walk(tree):
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    k = n.end_lineno - n.lineno + 1
                    if k > limit:
                        out.append((os.path.relpath(p, os.path.dirname(root)), n.name, n.lineno, k))
    return sorted(out, key=lambda r: -r[3])


if __name__ == "__main__":
    rows = long_functions(int(sys.argv[1]) if len(sys.argv) > 1 else 80)
    for r in rows:
        print("%-32s %-24s line %4d  %3d lines" % r)
    sys.exit(1 if rows else 0)
