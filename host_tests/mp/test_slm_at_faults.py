# The SLM AT driver (firmware/net/slm.py), continued: modem reset and link set-up, dialect B hex
# mode, old SLM without OK on data-mode entry, a data mode left open by a wake cut short, and a
# bounded fuzz of noise around the answers. Runs under CPython and micropython.
from errors import NetworkDown
from net.slm import SlmNet, fields, timer_s, _UP
from slm_fixture import Board, Store, Modem, OK, CEREG_READ, slm_a, _net, _MDM_UP, ticks_ms, ticks_diff
import binascii

def test_modem_reset_detected_and_link_configured():
    def ans(c, m):
        if c == "AT+CFUN?":
            return b"\r\n+CFUN: %d\r\n" % m.cfun + OK
        if c.startswith("AT+CFUN="):
            m.cfun = int(c[8:])
            return OK
        if c == "AT#XSOCKETSELECT?":
            return OK                          # no socket survived the reset
        if c.startswith("AT+C") or c.startswith("AT%") or c.startswith("AT#XDATACTRL"):
            return OK
        return slm_a(c, m)
    modem_cfun = 0
    n, modem, st = _net(lambda c, m: ans(c, m) if hasattr(m, "cfun") else (setattr(m, "cfun", modem_cfun) or ans(c, m)),
                        mdm=_MDM_UP)
    assert "modem-reset" in n.events and n.resets == 1
    assert "AT+CFUN=4" in modem.cmds and "AT+CFUN=1" in modem.cmds and "AT+CEREG=5" in modem.cmds
    assert [c for c in modem.cmds if c.startswith("AT+CPSMS=1")]
    assert n.h == 1 and "socket-opened" in n.events and n.flags & _UP


def test_dialect_b_hex_is_binary_safe():
    seen = []

    def ans(c, m):
        if c == "AT":
            return OK
        if c == "AT+CFUN?":
            return b"\r\n+CFUN: 1\r\n" + OK
        if c == "AT+CEREG?":
            return CEREG_READ
        if c == "AT#XSOCKET?":
            return b"\r\n#XSOCKET: 0,1,0,2,0\r\n" + OK
        if c.startswith("AT#XSENDTO=0,1,0,"):
            hx = c.split(",")[-1].strip('"')
            seen.append(binascii.unhexlify(hx))
            return b"\r\n#XSENDTO: 0,0,%d\r\n" % (len(hx) // 2) + OK
        if c.startswith("AT#XAPOLL="):
            return OK + b"\r\n#XAPOLL: 0,1\r\n"
        if c.startswith("AT#XRECVFROM=0,1,"):
            d = m.rx.pop(0)
            h = binascii.hexlify(d)
            return b'\r\n#XRECVFROM: 0,1,%d,"192.168.1.100",24210\r\n' % len(d) + h + OK
        if c.startswith("AT#XSOCKETOPT="):
            return OK
        return b"\r\nERROR\r\n"
    mdm = b"\x01\x00\x01\x00\x00\x2a\x30\x00\x00\x00\x02\x00\x00\xff"   # handle 0
    n, modem, st = _net(ans, mdm=mdm, m={"dialect": "B"}, eol=b"\r", chunk=5)
    d = bytes(range(256)) + b'+++"," \r\n'
    n.send(d)
    assert seen == [d]
    modem.rx.append(d)
    assert n.recv(500) == d


def test_fuzz_noise_never_crashes():
    # bounded: 60 opens with random noise lines and bytes before each answer; every outcome is
    # a socket handle or NetworkDown, never another exception
    seed = [12345]

    def rnd(k):
        seed[0] = (seed[0] * 1103515245 + 12345) & 0x7FFFFFFF
        return seed[0] % k

    def noise():
        b = bytearray()
        for _ in range(rnd(4)):
            b.extend(bytes(rnd(256) for _ in range(rnd(40))))
            b.extend(b"\r\n")
        return bytes(b)
    ok = down = 0
    for i in range(60):
        try:
            n, modem, st = _net(mdm=_MDM_UP, noise=noise, chunk=1 + rnd(7), m={"sync_ms": 150})
            ok += 1
        except NetworkDown:
            down += 1
    assert ok + down == 60 and ok > 0


def test_old_slm_without_ok_on_data_mode_entry():
    # SLM <= 2.x sends no OK when entering data mode (modem.dm_ok false): the datagram still goes
    def ans(c, m):
        if c.startswith("AT#XSENDTO="):
            m.dm = bytearray()
            return None
        return slm_a(c, m)
    n, modem, st = _net(ans, mdm=_MDM_UP, m={"dm_ok": False})
    n.send(b'x,"y"')
    assert modem.sent == [b'x,"y"'] and n.dg_up == 1


def test_stale_data_mode_is_ended_at_sync():
    # a wake cut short inside data mode leaves the SLM there: the next wake's AT is swallowed as
    # data, no answer; the driver sends the terminator alone and syncs again
    modem = Modem(slm_a)
    modem.rx = []
    modem.dm = bytearray()
    n = SlmNet("192.0.2.1", 5683, Board(), Store(_MDM_UP), {"dialect": "A", "sync_ms": 200, "dm_guard_ms": 1},
               uart=modem)
    assert n.h == 1 and modem.sent and modem.sent[0].startswith(b"AT")   # the swallowed AT went as data
