"""make deploy / flash / monitor / hw-test / console on the host: what is missing is said and
exits non-zero; the config is checked with the firmware's own loader; the exact esptool/mpremote
command lines; and a deploy end to end onto a fake device (tools/esp32sim/fake_mpremote.py plays
mpremote and the board's flash), which then boots from what was deployed on the ESP32 model."""
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = os.path.join(ROOT, ".venv", "bin", "python")
DEPLOY = os.path.join(ROOT, "tools", "deploy.py")
FAKE = os.path.join(ROOT, "tools", "esp32sim", "fake_mpremote.py")
sys.path.insert(0, os.path.join(ROOT, "tools"))


def deploy(*args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([PY, DEPLOY] + list(args), capture_output=True, text=True, timeout=120, env=e, cwd=ROOT)


def make(*args):
    return subprocess.run(["make", "-s", "-o", ".venv/ok"] + list(args), capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


_N = [0]


def _name(ext="json"):
    _N[0] += 1
    return "f%d.%s" % (_N[0], ext)


def _secrets(tmp, **over):
    with open(os.path.join(ROOT, "secrets", "example.json")) as f:
        s = json.load(f)
    s["wifi"] = {"ssid": "lab", "key": "correct-horse"}
    s.update(over)
    p = os.path.join(str(tmp), _name())
    with open(p, "w") as f:
        json.dump(s, f)
    return p


def _board(tmp, **over):
    with open(os.path.join(ROOT, "boards", "esp32.json")) as f:
        b = json.load(f)
    for k, v in over.items():
        b[k] = dict(b.get(k, {}), **v) if isinstance(v, dict) else v
    p = os.path.join(str(tmp), _name())
    with open(p, "w") as f:
        json.dump(b, f)
    return p


def test_help_lists_every_target_with_its_variables():
    r = make("help")
    assert r.returncode == 0
    for t in ("flash PORT=", "FIRMWARE=", "deploy PORT=", "BOARD=", "SECRETS=", "monitor PORT=",
              "hw-test PORT=", "SERVER=", "console [PORT=", "size", "test", "demo", "bench", "mpy", "run SERVER="):
        assert t in r.stdout, t


def test_targets_without_port_say_so_and_fail():
    for t in ("flash", "deploy", "monitor", "hw-test"):
        r = make(t)
        assert r.returncode != 0, t
        assert "PORT" in r.stderr, (t, r.stderr)
    assert "skipped" in make("hw-test").stderr


def test_missing_tool_file_and_port(tmp_path):
    s, b = _secrets(tmp_path), _board(tmp_path)
    r = deploy("deploy", "--port", "/dev/x", "--board", b, "--secrets", s, "--dry-run",
               env={"LWM2M_MPREMOTE": str(tmp_path / "nope")})
    assert r.returncode == 2 and "mpremote not found" in r.stderr
    r = deploy("flash", "--port", "/dev/x", "--firmware", str(tmp_path / "none.bin"), "--dry-run")
    assert r.returncode == 2 and "MicroPython image" in r.stderr and "not found" in r.stderr
    r = deploy("deploy", "--port", "/dev/x", "--board", b, "--dry-run")
    assert r.returncode == 2 and "secrets" in r.stderr
    r = deploy("deploy", "--port", "/dev/x", "--board", "no-such-board", "--secrets", s, "--dry-run")
    assert r.returncode == 2 and "boards/" in r.stderr
    r = deploy("deploy", "--port", str(tmp_path / "ttyUSB7"), "--board", b, "--secrets", s)
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = deploy("console")
    assert r.returncode == 2 and "PORT" in r.stderr


def test_config_checked_by_the_firmware_validator(tmp_path):
    s = _secrets(tmp_path)
    cases = [
        (_board(tmp_path, security={"mode": "bogus"}), s, "security.mode"),
        (_board(tmp_path, server={"uri": "coap://h.example:5683"}), s, "does not fit server.uri"),
        (_board(tmp_path, schedule={"sleep_s": 0}), s, "schedule.sleep_s"),
        (_board(tmp_path, server={"uri": "coaps://127.0.0.1:5684"}), s, "loopback"),
        (_board(tmp_path, board="unix"), s, "not a board type"),
        (_board(tmp_path), _secrets(tmp_path, wifi={"key": "x"}), "wifi"),
        (_board(tmp_path), _secrets(tmp_path, wifi={"ssid": "lab", "key": "short"}), "wifi.key"),
    ]
    for b, sp, why in cases:
        r = deploy("deploy", "--port", "/dev/x", "--board", b, "--secrets", sp, "--dry-run")
        assert r.returncode == 1 and why in r.stderr, (why, r.stderr)
        assert "$ " not in r.stdout           # nothing would have run
    # PSK keys missing: the firmware's own message, naming the file
    sp = str(tmp_path / "nokeys.json")
    with open(sp, "w") as f:
        json.dump({"wifi": {"ssid": "lab", "key": "correct-horse"}}, f)
    r = deploy("deploy", "--port", "/dev/x", "--board", _board(tmp_path), "--secrets", sp, "--dry-run")
    assert r.returncode == 1 and "lacks 'psk_identity'" in r.stderr
    # NoSec still needs the Wi-Fi credentials of an ESP32, and they are read in NoSec mode
    b = _board(tmp_path, server={"uri": "coap://h.example:5683"}, security={"mode": "nosec"})
    r = deploy("deploy", "--port", "/dev/x", "--board", b, "--secrets", s, "--dry-run")
    assert r.returncode == 0 and "Wi-Fi 'lab'" in r.stdout, r.stderr


def test_dry_run_prints_the_exact_commands(tmp_path):
    s, b = _secrets(tmp_path), _board(tmp_path)
    r = deploy("deploy", "--port", "/dev/ttyUSB0", "--board", b, "--secrets", s, "--dry-run")
    assert r.returncode == 0, r.stderr
    lines = [ln[2:] for ln in r.stdout.splitlines() if ln.startswith("$ ")]
    mp = os.path.join(ROOT, ".venv", "bin", "mpremote")
    assert lines == [shlex.join([mp, "connect", "/dev/ttyUSB0", "romfs", "deploy",
                                 os.path.join(ROOT, "build", "device", "psk.romfs"),
                                 "+", "cp", os.path.join(ROOT, "tools", "device", "main.py"), ":main.py",
                                 "+", "cp", b, ":config.json", "+", "cp", s, ":secrets.json", "+", "reset"])]
    fw = str(tmp_path / "ESP32_GENERIC-ROMFS.bin")
    open(fw, "wb").write(b"\xe9" + bytes(15))
    r = deploy("flash", "--port", "/dev/ttyUSB0", "--firmware", fw, "--dry-run")
    et = os.path.join(ROOT, ".venv", "bin", "esptool")
    assert [ln[2:] for ln in r.stdout.splitlines() if ln.startswith("$ ")] == [
        shlex.join([et, "--chip", "esp32", "--port", "/dev/ttyUSB0", "erase-flash"]),
        shlex.join([et, "--chip", "esp32", "--port", "/dev/ttyUSB0", "--baud", "460800", "write-flash", "0x1000", fw])]
    r = make("deploy", "PORT=/dev/ttyUSB0", "BOARD=" + b, "SECRETS=" + s, "DRY=1")
    assert r.returncode == 0 and "romfs deploy" in r.stdout, r.stderr


def test_deploy_onto_a_fake_device_then_it_boots(tmp_path):
    dev = tmp_path / "device"
    port = tmp_path / "ttyUSB0"
    port.write_text("")
    s = _secrets(tmp_path)
    b = _board(tmp_path, server={"uri": "coap://lwm2m.example.net:5683"}, security={"mode": "nosec"},
               coap={"ack_timeout_ms": 200, "max_retransmit": 1, "probe_retransmit": 0})
    r = deploy("deploy", "--port", str(port), "--board", b, "--secrets", s,
               env={"LWM2M_MPREMOTE": FAKE, "LWM2M_FAKE_DEVICE": str(dev)})
    assert r.returncode == 0, r.stdout + r.stderr
    ran = [json.loads(ln) for ln in open(dev / "mpremote.log")]
    printed = [shlex.split(ln[2:])[1:] for ln in r.stdout.splitlines() if ln.startswith("$ ")]
    assert ran == printed and len(ran) == 1                 # one mpremote session, as printed
    assert sorted(os.listdir(dev)) == ["config.json", "main.py", "mpremote.log", "resets", "romfs0.img", "secrets.json"]
    assert open(dev / "config.json").read() == open(b).read()
    assert open(dev / "main.py").read() == open(os.path.join(ROOT, "tools", "device", "main.py")).read()

    # boot what was deployed on the ESP32 model: /rom from the partition, /main.py, /config.json
    # and /secrets.json from the board's filesystem (the fake device's directory). The server
    # name only resolves on the user's network, so the deployed config is pointed at a silent
    # local socket, and the test checks what the board sent there.
    from esp32sim import harness
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    srv.settimeout(30)
    cfg = json.load(open(dev / "config.json"))
    cfg["server"]["uri"] = "coap://127.0.0.1:%d" % srv.getsockname()[1]
    with open(dev / "config.json", "w") as f:
        json.dump(cfg, f)
    env = dict(os.environ, LWM2M_STATE=str(tmp_path / "state"),
               LWM2M_ESP32SIM=json.dumps({"ap": {"ssid": "lab", "key": "correct-horse", "assoc_ms": 50}}))
    for k in ("LWM2M_CLOCK", "LWM2M_CONFIG", "LWM2M_SECRETS"):
        env.pop(k, None)
    p = subprocess.Popen(harness.boot_argv(str(dev / "romfs0.img"), str(dev)), env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        data, _ = srv.recvfrom(2048)
        out, _ = p.communicate(timeout=60)
    finally:
        p.kill()
        srv.close()
    assert data[1] == 2 and b"rd" in data and b"ep=urn:dev:esp32-" in data, data    # POST /rd?ep=...
    wake = [json.loads(ln[5:]) for ln in out.splitlines() if ln.startswith("WAKE ")]
    assert len(wake) == 1 and wake[0]["cause"] == "power-on", out
    assert wake[0]["result"] == "no-answer" and wake[0]["ep"].startswith("urn:dev:esp32-")
    assert "wifi up in" in out and os.path.exists(tmp_path / "state" / "sleep")


def test_monitor_renders_wake_lines(tmp_path):
    log = tmp_path / "serial.log"
    log.write_text("I wifi up in 1180 ms (472000 uJ) rssi -58\n"
                   'WAKE {"t": 1798765200, "cause": "deepsleep", "path": "cid+update", "result": "ok", "up": 41, '
                   '"down": 40, "dg_up": 1, "dg_down": 1, "heap_peak": 50000, "sleep_s": 3600}\n'
                   "garbage WAKE\nWAKE {not json\n")
    r = deploy("monitor", "--log", str(log))
    assert r.returncode == 0
    rows = r.stdout.splitlines()
    assert rows[0].split()[:3] == ["wake", "time", "path"]
    row = [ln for ln in rows if "cid+update" in ln][0]
    assert row.split()[:7] == ["0", "01:00:00", "cid+update", "41", "40", "2", "ok"]
    assert "wifi up in 1180 ms" in row and "heap 50000" in row
    assert any("WAKE {not json" in ln for ln in rows)


def test_hw_test_checks():
    import deploy as d
    ok = [{"result": "ok", "path": "nosec+register", "up": 100, "down": 20, "ep": "e", "cause": "power-on"},
          {"result": "ok", "path": "nosec+update", "up": 18, "down": 4, "ep": "e", "cause": "deepsleep"}]
    assert d.check_wakes(ok) == []
    assert d.check_wakes([]) == ["no WAKE line"]
    bad = [dict(ok[0]), dict(ok[1], result="no-answer", error="x")]
    assert "wake 1: no-answer x" in d.check_wakes(bad)
    assert any("registration did not survive" in p for p in d.check_wakes([ok[0], dict(ok[0], cause="deepsleep")]))
    assert any("endpoint changed" in p for p in d.check_wakes([ok[0], dict(ok[1], ep="f")]))


def test_a_board_with_several_mechanisms_gets_the_image_holding_them():
    # security.modes needs the DTLS and the OSCORE code and wake/mechanisms.py: only "all" has
    # them; a one-mode image leaves wake/mechanisms.py out (3.5 KB it never runs)
    import deploy
    import size
    assert deploy.image_set({"security": {"mode": "oscore"}}) == "oscore"
    assert deploy.image_set({"security": {"mode": "psk"}, "modem": {"uart": 1}}) == "psk+modem"
    assert deploy.image_set({"security": {"mode": "oscore", "modes": ["oscore", "psk"]}}) == "all"
    assert deploy.image_set({"security": {"mode": "oscore", "modes": ["oscore", "psk"]},
                             "modem": {"uart": 1}}) == "all+modem"
    for m in ("nosec", "psk", "oscore"):
        assert "wake/mechanisms.py" not in size.device_files(m), m
    files = size.device_files("all")
    assert "wake/mechanisms.py" in files and "dtls/client.py" in files and "oscore/kdf.py" in files
