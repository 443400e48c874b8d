"""make fuzz: the project's own structure-aware and mutation fuzzers, run under the micropython
binary (the firmware's own interpreter: json, struct, floats and exceptions behave as on the
device), many inputs per process, and the regression corpus of every past finding.

    python tools/fuzz/run.py [--n 100000] [--targets coap,dm] [--jobs 2] [--seed 1]
    python tools/fuzz/run.py --corpus-only          (replay host_tests/fuzz_corpus/ only)

Prints a table: target, inputs, rejected (the parser's documented rejection), findings,
seconds. A finding is an input that raised anything but the documented rejection, broke an
invariant (a non-JSON blob in flash, a 5.00, a next wake that fails), or hung; each is written
to reports/fuzz/findings.txt as `target hex  # error` (add it to the corpus once fixed).
Exit status 1 when there is any finding. Targets: tools/fuzz/targets.py (a registry: a new
parser, e.g. the modem's AT responses, is one class there or in a module listed in MODULES).
"""
import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MP = os.path.join(ROOT, ".venv", "bin", "micropython")
CORPUS = os.path.join(ROOT, "host_tests", "fuzz_corpus")
TARGETS = ("coap", "exchange", "dtls-record", "dtls-handshake", "oscore", "tlv", "text", "cbor",
           "senml-json", "senml-cbor", "lwm2m-cbor", "dm", "config", "state", "at-urc")


def _argv(*args):
    return [MP, "-X", "heapsize=8M", os.path.join(HERE, "mp_main.py")] + [str(a) for a in args]


def _env():
    e = dict(os.environ)
    e["FUZZ_FIRMWARE"] = os.path.join(ROOT, "firmware")
    e.pop("MICROPYPATH", None)
    return e


def _parse(out, err, rc, job):
    """-> (inputs, rejected, findings, [finding lines])"""
    n = rej = found = 0
    lines = []
    done = False
    for ln in out.splitlines():
        if ln.startswith("FINDING "):
            lines.append(ln[8:])
        elif ln.startswith("DONE "):
            p = ln.split()
            n, rej, found = int(p[2]), int(p[3]), int(p[4])
            done = True
    if not done:
        found += 1
        tail = (err or out or "").strip().splitlines()[-1:] or ["no output"]
        lines.append("%s %s  # process ended without DONE (rc %s): %s" % (job[0], job[1], rc, tail[0]))
    return n, rej, found, lines


def targets_known():
    # the registry under micropython (what make fuzz can run), falling back to the list here
    try:
        r = subprocess.run([MP, "-c", "import sys; sys.path.insert(0, %r); import targets, engine; "
                            "print(' '.join(sorted(engine.TARGETS)))" % HERE],
                           capture_output=True, text=True, timeout=60, env=_env())
        names = r.stdout.split()
        if names:
            return [t for t in TARGETS if t in names] + sorted(set(names) - set(TARGETS))
    except (OSError, subprocess.SubprocessError):
        pass
    return list(TARGETS)


def run(targets, n, jobs=2, seed=1, batch=10000, corpus=True, timeout=900, quiet=False):
    """Run the campaign; returns (rows, findings): rows {target: [inputs, rejected, findings, s]}."""
    work = []
    for t in targets:
        if corpus:
            f = os.path.join(CORPUS, t + ".hex")
            if os.path.exists(f):
                work.append((t, "corpus", f))
        k = 0
        left = n
        while left > 0:
            b = min(batch, left)
            work.append((t, "seed %d" % (seed * 1000 + k), b))
            left -= b
            k += 1
    rows = {t: [0, 0, 0, 0.0, 0] for t in targets}
    findings = []
    running = []
    work.reverse()
    while work or running:
        while work and len(running) < jobs:
            t, what, arg = work.pop()
            args = (t, "replay", arg) if what == "corpus" else (t, what.split()[1], arg)
            p = subprocess.Popen(_argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=_env(), cwd=HERE)
            running.append((p, (t, what), time.time()))
        time.sleep(0.02)
        for item in list(running):
            p, job, t0 = item
            if p.poll() is None and time.time() - t0 < timeout:
                continue
            if p.poll() is None:
                p.kill()
                out, err = p.communicate()
                err = "timeout after %d s" % timeout
            else:
                out, err = p.communicate()
            running.remove(item)
            n_, rej, found, lines = _parse(out, err, p.returncode, job)
            r = rows[job[0]]
            r[0] += n_
            r[1] += rej
            r[2] += found
            r[3] += time.time() - t0
            if job[1] == "corpus":
                r[4] += n_
            findings.extend(lines)
            if lines and not quiet:
                for ln in lines[:3]:
                    print("finding:", ln[:300], flush=True)
    return rows, findings


def table(rows):
    out = ["%-15s %9s %9s %9s %8s %8s" % ("target", "inputs", "rejected", "findings", "corpus", "cpu s")]
    tot = [0, 0, 0, 0.0, 0]
    for t, r in rows.items():
        out.append("%-15s %9d %9d %9d %8d %8.1f" % (t, r[0], r[1], r[2], r[4], r[3]))
        for i in range(5):
            tot[i] += r[i]
    out.append("%-15s %9d %9d %9d %8d %8.1f" % ("total", tot[0], tot[1], tot[2], tot[4], tot[3]))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100000, help="inputs per target (default 100000)")
    ap.add_argument("--targets", default="", help="comma-separated (default: all)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=10000, help="inputs per micropython process")
    ap.add_argument("--corpus-only", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "reports", "fuzz"))
    a = ap.parse_args()
    if not os.path.exists(MP):
        sys.exit("fuzz: %s missing (run make setup)" % MP)
    known = targets_known()
    ts = [t for t in a.targets.split(",") if t] or known
    bad = [t for t in ts if t not in known]
    if bad:
        sys.exit("fuzz: unknown target(s) %s; known: %s" % (", ".join(bad), ", ".join(known)))
    t0 = time.time()
    print("fuzz: %d targets x %d inputs under %s, %d jobs, seed %d"
          % (len(ts), 0 if a.corpus_only else a.n, os.path.relpath(MP, ROOT), a.jobs, a.seed), flush=True)
    rows, findings = run(ts, 0 if a.corpus_only else a.n, a.jobs, a.seed, a.batch)
    print(table(rows))
    print("wall %.0f s" % (time.time() - t0))
    if findings:
        os.makedirs(a.out, exist_ok=True)
        p = os.path.join(a.out, "findings.txt")
        with open(p, "w") as f:
            for ln in findings:
                parts = ln.split(" ", 2)
                f.write("%s %s  # %s\n" % tuple(parts + [""] * (3 - len(parts))))
        print("%d findings: %s" % (len(findings), os.path.relpath(p, ROOT)))
        sys.exit(1)


if __name__ == "__main__":
    main()
