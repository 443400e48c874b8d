"""The 32-bit heap measurement (tools/wasm, docs/memory.md): wakes recorded under the unix port
replay byte for byte on MicroPython's 32-bit webassembly port, a recording that does not match
is reported naming the datagram, the host-AES cryptolib shim passes the FIPS-197 vectors and
the forced collection of the port measures the live heap. Skipped only when node or the npm
package is missing (make wasm32 installs them)."""
import asyncio
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "wasm"))
import measure  # noqa: E402

WHY = measure.available()
pytestmark = pytest.mark.skipif(WHY is not None, reason=str(WHY))

SLOW = {"coap": {"ack_timeout_ms": 1500}}     # a loaded machine must not change the paths
NOSEC = {"wakes": 2, "mode": "nosec", "plugins": ["nosec"], "board": SLOW}
# the wake to replay is a CID record each way: planner.force takes the planner's choice out
# (at these timers it resumes until three clean wakes make a silent CID cheap to detect)
DTLS_CID = {"wakes": 2, "mode": "psk", "plugins": ["dtls", "nosec"], "security": {"cid": "rfc9146"},
            "board": dict(SLOW, planner={"force": "cid"})}


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("rec"))
    return {g: asyncio.run(asyncio.wait_for(measure.record_group(g, measure.group_scenario(sc), d), 300))
            for g, sc in (("nosec", NOSEC), ("dtls", DTLS_CID))}


def _uplinks(recdir):
    with open(os.path.join(recdir, "rec.txt")) as f:
        return [ln.split()[1] for ln in f if ln.startswith("U ")]


def _replays(w):
    assert w["result"] == "ok", w
    r = measure.replay(w["rec"], timeout=120)
    assert r["ok"], r.get("error")
    assert r["maxsize"] == 2 ** 31 - 1                 # it is the 32-bit port
    assert r["wake"]["path"] == w["path"] and r["wake"]["result"] == "ok"
    assert r["up"] == len(_uplinks(w["rec"])) > 0       # every recorded uplink was sent again
    assert r["consumed"] == r["events"]
    # the same checkpoints, and every one smaller on 32 bits
    l64 = [m.split(":")[0] for m in w["heap_marks"].split()]
    l32 = [m.split(":")[0] for m in r["wake"]["heap_marks"].split()]
    assert l64 == l32
    assert 0 < r["wake"]["heap_peak"] < w["heap_peak"]
    return r


def test_nosec_wakes_replay_byte_for_byte(rec):
    paths = [w["path"] for w in rec["nosec"]]
    assert paths == ["nosec+register", "nosec+update"]
    for w in rec["nosec"]:
        _replays(w)


def test_dtls_wakes_replay_byte_for_byte(rec):
    """A full handshake (AES-CCM through the host shim, HMAC/PRF on hashlib) and a CID record
    each way: the replayed device sends the same bytes as the recorded one."""
    assert [w["path"] for w in rec["dtls"]] == ["full-handshake+register", "cid+update"]
    for w in rec["dtls"]:
        r = _replays(w)
        assert r["down"] > 0


def test_corrupted_recording_is_a_mismatch_naming_the_datagram(rec, tmp_path):
    w = rec["nosec"][1]
    bad = str(tmp_path / "bad")
    shutil.copytree(w["rec"], bad)
    p = os.path.join(bad, "rec.txt")
    lines = open(p).read().splitlines()
    ups = [i for i, ln in enumerate(lines) if ln.startswith("U ")]
    assert len(ups) >= 2
    orig = lines[ups[1]][2:]
    flipped = "%02x" % (int(orig[:2], 16) ^ 0xFF) + orig[2:]
    lines[ups[1]] = "U " + flipped
    with open(p, "w") as f:
        f.write("\n".join(lines) + "\n")
    r = measure.replay(bad, timeout=120)
    assert not r["ok"]
    assert "uplink datagram #1 differs" in r["error"], r["error"]
    assert "recorded " + flipped[:48] in r["error"] and "replayed " + orig[:48] in r["error"], r["error"]

    # a recording that ends early: the device's next datagram is reported
    with open(p, "w") as f:
        f.write("\n".join(lines[:ups[1]]) + "\n")
    r = measure.replay(bad, timeout=120)
    assert not r["ok"] and "uplink datagram #1" in r["error"] and "had ended" in r["error"], r["error"]


def _mp32(code):
    p = subprocess.run(["node", os.path.join(measure.HERE, "mp32.mjs"), measure.SHIMS, code, measure.MPJS],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout.split()


def test_cryptolib_shim_known_answers():
    """FIPS-197 Appendix C.1 (AES-128) and C.3 (AES-256), returned and in place (the way
    crypto/__init__.py's CCM calls it: encrypt(block, block))."""
    out = _mp32("import hostaes\n"
                "pt = bytes.fromhex('00112233445566778899aabbccddeeff')\n"
                "print(hostaes.aes(bytes(range(16)), 1).encrypt(pt).hex())\n"
                "b = bytearray(pt)\n"
                "hostaes.aes(bytes(range(32)), 1).encrypt(b, b)\n"
                "print(b.hex())\n")
    assert out == ["69c4e0d86a7b0430d8cdb78070b4c55a", "8ea2b7ca516745bfeafc49904b496089"]


def test_forced_collection_measures_the_live_heap():
    """vgc.collect() really collects mid-run on the webassembly port (its own gc.collect() only
    defers): garbage goes, live objects stay intact and are counted (10 bytearrays of 50 B)."""
    out = _mp32("import vgc\n"
                "vgc.collect(); a0 = vgc.mem_alloc()\n"
                "for i in range(200): bytes(64)\n"
                "vgc.collect(); print(vgc.mem_alloc() - a0)\n"
                "keep = [bytearray(b'%d' % i * 50) for i in range(10)]\n"
                "vgc.collect(); print(vgc.mem_alloc() - a0)\n"
                "print(all(keep[i] == b'%d' % i * 50 for i in range(10)))\n")
    garbage, kept, intact = int(out[0]), int(out[1]), out[2]
    assert garbage < 200
    assert 10 * 50 <= kept < 10 * 200
    assert intact == "True"
