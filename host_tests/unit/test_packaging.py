"""package.json (mip) and manifest.py (freezing) hold exactly what a device runs; make size."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import size  # noqa: E402


def test_package_json_is_the_device_module_list():
    with open(os.path.join(ROOT, "package.json")) as f:
        pkg = json.load(f)
    dests = [d for d, _ in pkg["urls"]]
    assert dests == size.device_files("all")          # regenerate: python tools/size.py --package
    assert "board/unix.py" not in dests and "main.py" in dests and "board/esp32.py" in dests
    for d, src in pkg["urls"]:
        assert src == "firmware/" + d and os.path.isfile(os.path.join(ROOT, src))
    assert pkg["deps"] == []


def test_manifest_freezes_the_device_modules():
    calls = []
    env = {"include": lambda p: calls.append(("include", p)),
           "module": lambda m, base_path=".", opt=None: calls.append(("module", os.path.join(base_path, m))),
           "package": lambda p, files=None, base_path=".", opt=None: calls.append(("package", p, files, base_path))}
    with open(os.path.join(ROOT, "manifest.py")) as f:
        exec(compile(f.read(), "manifest.py", "exec"), env)
    frozen = set()
    for c in calls:
        if c[0] == "module":
            frozen.add(os.path.relpath(c[1], "firmware").replace(os.sep, "/"))
        elif c[0] == "package":
            root = os.path.join(ROOT, c[3], c[1])
            names = c[2] or [os.path.relpath(os.path.join(dp, fn), root) for dp, _d, fns in os.walk(root)
                             for fn in fns if fn.endswith(".py")]
            frozen.update(c[1] + "/" + n.replace(os.sep, "/") for n in names)
    assert frozen == set(size.device_files("all"))
    assert ("include", "$(PORT_DIR)/boards/manifest.py") in calls


def test_make_size_prints_the_table():
    r = subprocess.run(["make", "-s", "-o", ".venv/ok", "size"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    lines = lines[[i for i, ln in enumerate(lines) if ln.startswith("module ")][0]:]
    assert lines[0].split()[:3] == ["module", "harness", "B"]
    total = [ln for ln in lines if ln.startswith("total")][0].split()
    mods = [ln.split() for ln in lines[1:] if ln and not ln.startswith(("total", " ", "."))]
    assert int(total[1]) == sum(int(m[1]) for m in mods) and len(mods) == len(size.sources())
    summary = lines[[i for i, ln in enumerate(lines) if ln.startswith(".mpy bytes a device holds")][0]:]
    # each mode's row states its bytes and whether it meets issue #14's 60 KiB goal, correctly
    # (the psk and oscore images are over it today: the row says by how much; the goal itself
    # is tracked in issue #14, not asserted here)
    for mode in ("nosec", "psk", "oscore"):
        row = [ln for ln in summary if ln.strip().startswith(mode)][0]
        b = int(row.split()[1])
        if b <= 60 * 1024:
            assert "<= 60 KiB goal" in row, row
        else:
            assert ("over the 60 KiB goal by %d B" % (b - 60 * 1024)) in row, row
