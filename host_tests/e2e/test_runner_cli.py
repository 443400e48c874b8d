"""`make run` (tools/runner.py --external) with broken inputs (issue #11): a missing or broken
board or secrets file gives the firmware validator's one-line message (no traceback, no secret
printed), failed wakes make the exit status non-zero, the temporary device directory and its
copy of the secrets are removed, a closed port keeps RFC 7252's retransmission spacing and an
unresolvable host is `network-down`."""
import json
import os
import re
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = sys.executable


def _run(*args, timeout=180):
    return subprocess.run([PY, os.path.join(ROOT, "tools", "runner.py"), "--external"] + list(args),
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def _closed_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _board(tmp_path, **over):
    with open(os.path.join(ROOT, "boards", "unix.json")) as f:
        b = json.load(f)
    for k, v in over.items():
        b[k] = v
    p = tmp_path / "board.json"
    p.write_text(json.dumps(b))
    return str(p)


def test_missing_and_broken_board_files(tmp_path):
    r = _run("--board", "no-such-board", "--wakes", "1")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "board 'no-such-board'" in r.stderr and "unix" in r.stderr
    p = tmp_path / "broken.json"
    p.write_text('{"server": ')
    r = _run("--board", str(p), "--wakes", "1")
    assert r.returncode != 0 and "Traceback" not in r.stderr and "not valid JSON" in r.stderr
    r = _run("--board", _board(tmp_path, schedule={"listen_ms": "1500ms"}), "--wakes", "1")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "config-error schedule.listen_ms: an integer of milliseconds" in r.stderr, r.stderr
    assert "'1500ms'" in r.stderr


def test_missing_and_broken_secrets(tmp_path):
    srv = "coaps://127.0.0.1:%d" % _closed_port()
    r = _run("--server", srv, "--wakes", "1")
    assert r.returncode != 0 and "Traceback" not in r.stderr and "needs a secrets file" in r.stderr
    r = _run("--server", srv, "--secrets", str(tmp_path / "none.json"), "--wakes", "1")
    assert r.returncode != 0 and "Traceback" not in r.stderr and "not found" in r.stderr
    s = tmp_path / "s.json"
    s.write_text(json.dumps({"psk_identity": "me", "psk_key": "secretzz"}))
    r = _run("--server", srv, "--secrets", str(s), "--wakes", "1")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "config-error secrets psk_key" in r.stderr and "secretzz" not in r.stderr + r.stdout


def test_failed_wake_exits_nonzero_cleans_up_and_keeps_spacing(tmp_path):
    # a closed port: ICMP port unreachable (ECONNREFUSED) is no answer, and not a reason to
    # retransmit at once: 3 transmissions 200 + 400 ms apart at least (RFC 7252 4.2)
    import time
    b = _board(tmp_path, coap={"ack_timeout_ms": 200, "ack_random_factor": 1.0, "max_retransmit": 2})
    t0 = time.monotonic()
    r = _run("--board", b, "--server", "coap://127.0.0.1:%d" % _closed_port(), "--wakes", "1",
             "--sleep", "1")
    assert r.returncode == 1, r.stdout + r.stderr
    assert time.monotonic() - t0 >= 0.6          # 200 + 400 ms waited, not 3 sends at once
    assert "0/1 wakes ok" in r.stdout and "no-answer" in r.stdout
    d = re.search(r"device state in (\S+)", r.stdout).group(1)
    assert d.startswith("/tmp") or "lwm2m-run-" in d
    assert not os.path.exists(d)                    # directory and secrets copy removed


def test_unresolvable_host_is_network_down(tmp_path):
    r = _run("--server", "coap://no-such-host.invalid:5683", "--wakes", "1", "--sleep", "1")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "network-down" in r.stdout and "crash" not in r.stdout
