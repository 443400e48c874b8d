"""The registry of RTC sections (firmware/state.py _SECTIONS, state.spec()) against the firmware's sources:
every section the firmware writes is in it, every entry is written, each by its owner only,
and the wake cycle touches no module's section itself (it asks Store.owned)."""
import os
import re

import state

FW = os.path.join(os.path.dirname(__file__), "..", "..", "firmware")
_PUT = re.compile(r"""\.put\(\s*["'](\w+)["']\s*,""")
_PREFIX = re.compile(r"""\.put\(\s*["'](\w+)["']\s*\+""")
_SEQ = re.compile(r"""SeqReserve\(\s*\w+,\s*["'](\w+)["']""")
_SENSOR = re.compile(r"""\.sensor\([^()]*(?:\([^()]*\))?[^()]*["'](\w+)["']\)""")   # objects.Obj.sensor
_ANY = re.compile(r"""(?:store|st)\.(?:get|put|drop)\(\s*["'](\w+)["']""")


def _sources():
    for d, _, fs in os.walk(FW):
        for f in fs:
            if f.endswith(".py"):
                p = os.path.join(d, f)
                mod = os.path.relpath(p, FW)[:-3].replace(os.sep, ".")
                if mod.endswith(".__init__"):
                    mod = mod[:-9]
                yield mod, open(p).read()


def _writers():
    w = {}
    for mod, src in _sources():
        for n in _PUT.findall(src):
            w.setdefault(n, set()).add(mod)
        for n in _SEQ.findall(src):        # state.SeqReserve writes 'q' + name for its owner
            w.setdefault("q" + n, set()).add(mod)
        for n in _SENSOR.findall(src):     # an IPSO sensor's min/max, for the object's module
            w.setdefault(n, set()).add(mod)
        for p in _PREFIX.findall(src):     # put("w" + mode[0], ...): every registered name so
            for n in _registry():          # prefixed that this module owns
                if n.startswith(p) and len(n) == len(p) + 1 and mod in state.spec(n)[3].split("+"):
                    w.setdefault(n, set()).add(mod)
    return w


def _registry():
    return {r.split(" ")[0]: state.spec(r.split(" ")[0])
            for r in state.spec().strip("|").split("|")}


def test_registry_covers_every_section_written_and_nothing_else():
    w = _writers()
    reg = _registry()
    assert set(w) == set(reg), (sorted(set(w) - set(reg)), sorted(set(reg) - set(w)))


def test_one_owner_writes_each_section():
    for name, mods in _writers().items():
        owners = state.spec(name)[3].split("+")
        for m in mods:
            assert any(m == o or m.startswith(o + ".") for o in owners), (name, m, owners)


def test_budgets_and_framing_fit_rtc_memory():
    reg = _registry()
    total = 4 + 2 + sum(1 + len(n) + 1 + 2 + int(s[2]) for n, s in reg.items())
    assert total <= 2048, total      # RTC memory (board/unix.py RTC_MAX)


def test_the_wake_cycle_reads_and_writes_no_section_itself():
    for mod, src in _sources():
        if mod in ("wake.cycle",):
            assert not _ANY.findall(src), _ANY.findall(src)
