"""make test's slice of make fuzz: every target (tools/fuzz/targets.py) runs a few hundred
structure-aware and mutated inputs under the micropython binary, and every past finding in
host_tests/fuzz_corpus/ is replayed: no input may raise anything but the parser's documented
rejection, leave flash unreadable, or keep the next wake from working (issue #11)."""
import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# loaded by path: tools/fuzz/ on sys.path would shadow host_tests/fakes.py with tools/fuzz/fakes.py
_spec = importlib.util.spec_from_file_location("fuzz_run", os.path.join(ROOT, "tools", "fuzz", "run.py"))
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)


def test_every_target_and_the_regression_corpus():
    targets = fuzz.targets_known()
    assert set(fuzz.TARGETS) <= set(targets)
    rows, findings = fuzz.run(targets, 300, jobs=2, seed=7, batch=300, timeout=300, quiet=True)
    assert not findings, "\n".join(findings[:10])
    for t, r in rows.items():
        assert r[0] >= 300, (t, r)              # every input ran (DONE line seen)
        assert r[1] < r[0] or t in ("dtls-handshake", "senml-json", "config"), (t, r)
    corpus = [f[:-4] for f in os.listdir(fuzz.CORPUS) if f.endswith(".hex")]
    assert {"dm", "coap", "config", "state"} <= set(corpus)
    for t in corpus:
        assert rows[t][4] > 0, t                # replayed


def test_engine_counts_a_documented_rejection():
    """A replayed input that the parser rejects as documented is counted as rejected, not as a
    finding (the replay protocol the corpus relies on)."""
    import subprocess
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".hex", delete=False) as f:
        f.write("# not a CoAP message, but fine: rejected\n00\n")
        p = f.name
    try:
        r = subprocess.run(fuzz._argv("coap", "replay", p), capture_output=True, text=True,
                           timeout=60, env=fuzz._env(), cwd=fuzz.HERE)
        assert "DONE coap 1 1 0" in r.stdout, r.stdout + r.stderr
    finally:
        os.unlink(p)
