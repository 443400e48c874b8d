"""The hardware smoke test inside `make test`: runs only with a board plugged in.

    LWM2M_HW_PORT=/dev/ttyUSB0 LWM2M_HW_SERVER=coap://192.168.1.10:5683 \\
    LWM2M_HW_SECRETS=secrets/esp32.json [LWM2M_HW_BOARD=esp32] pytest host_tests/e2e/test_hw.py

(the same as `make hw-test PORT=... SERVER=... SECRETS=...`; see the README)."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_board_on_a_serial_port():
    port, server = os.getenv("LWM2M_HW_PORT"), os.getenv("LWM2M_HW_SERVER")
    if not port or not server:
        pytest.skip("no board: set LWM2M_HW_PORT and LWM2M_HW_SERVER (and LWM2M_HW_SECRETS) to run it")
    r = subprocess.run([os.path.join(ROOT, ".venv", "bin", "python"), os.path.join(ROOT, "tools", "deploy.py"),
                        "hw-test", "--port", port, "--server", server,
                        "--board", os.getenv("LWM2M_HW_BOARD", "esp32"),
                        "--secrets", os.getenv("LWM2M_HW_SECRETS", "secrets/esp32.json")],
                       cwd=ROOT, timeout=1200, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "hw-test passed" in r.stdout
