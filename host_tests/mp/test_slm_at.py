# The SLM AT driver (firmware/net/slm.py) against the transcripts of
# ../shared/specs/serial-modem-at.md through a scripted UART double (slm_fixture.py): split
# lines, URCs between a command and its answer, echo, ERROR / +CME ERROR, a silent modem, binary
# payloads holding CR LF, '"', ',', '+++' and NUL. Runs under CPython and micropython.
from errors import NetworkDown
from net.slm import SlmNet, fields, timer_s, _UP
from slm_fixture import Board, Store, Modem, OK, CEREG_READ, slm_a, _net, _MDM_UP, ticks_ms, ticks_diff
import binascii

def test_fields_and_timers():
    assert fields(b'1,"0A0B","01020304",9,,,"00100110","01011111"') == \
        [b"1", b"0A0B", b"01020304", b"9", b"", b"", b"00100110", b"01011111"]
    assert fields(b'7,"a,b",3') == [b"7", b"a,b", b"3"]
    assert timer_s("00100110") == 6 * 3600          # T3412-ext: unit 1 h x 6
    assert timer_s("10101010") == 10 * 60           # the guide's example: 10 min
    assert timer_s("00100001", False) == 60         # T3324: 1 min
    assert timer_s("11100000") == -1                # deactivated


def test_open_keeps_the_socket_and_reads_the_granted_timers():
    n, modem, st = _net(mdm=_MDM_UP)
    assert n.h == 1 and "socket-kept" in n.events
    # the read form: <n>,<stat>,...,"<Active-Time>","<Periodic-TAU-ext>"
    assert n.stat == 1 and n.act == 6 * 60 and n.tau == 31 * 36000
    assert "AT#XSOCKET=1,2,0" not in modem.cmds       # no new socket: the modem kept it


def test_binary_datagram_round_trip_dialect_a():
    n, modem, st = _net(mdm=_MDM_UP)
    d = b'\x00\r\nOK\r\n"q",\xff#XRECVFROM: 9\r\n'
    modem.rx.append(d)
    assert n.recv(500) == d                          # read by count, not by line
    assert n.down == len(d) and n.dg_down == 1
    n.send(b'"a","b",\r\n\x00')                      # quotes and commas in data mode
    assert modem.sent == [b'"a","b",\r\n\x00'] and n.dg_up == 1


def test_terminator_in_a_datagram_is_refused_not_corrupted():
    n, modem, st = _net(mdm=_MDM_UP)
    n.send(b"ab+++cd")
    n.send(b"ends with +")
    assert modem.sent == [] and n.unsendable == 2 and n.dg_up == 0
    assert not [c for c in modem.cmds if c.startswith("AT#XSENDTO")]


def test_split_lines_urcs_and_echo():
    def noise():
        return b'\r\n%XMODEMSLEEP: 1,36000\r\n\r\n+CSCON: 0\r\n\r\n+CEREG: 1,"0A0B","01020304",9,,,"00000001","00000110"\r\n'
    n, modem, st = _net(mdm=_MDM_UP, chunk=1, echo=True, noise=noise)
    assert n.h == 1
    assert n.tau == 3600 and n.act == 2     # the last +CEREG URC before the read answer... or the read
    modem.rx.append(b"\x01\x02")
    assert n.recv(500) == b"\x01\x02"


def test_error_and_cme_error_are_network_down_with_the_command():
    def ans(c, m):
        if c == "AT#XSOCKETSELECT?":
            return b"\r\n+CME ERROR: 518\r\n"
        return slm_a(c, m)
    try:
        _net(ans, mdm=_MDM_UP)
        assert False, "no error"
    except NetworkDown as e:
        assert "AT#XSOCKETSELECT?" in str(e) and "518" in str(e)
    n, modem, st = _net(mdm=_MDM_UP)
    modem.answers = lambda c, m: b"\r\nERROR\r\n" if c.startswith("AT#XPOLL") else slm_a(c, m)
    try:
        n.recv(100)
        assert False
    except NetworkDown as e:
        assert "poll" in str(e)
    assert n.h == -1                  # the socket is considered gone: a new one next wake


def test_silent_modem_is_bounded():
    t0 = ticks_ms()
    try:
        _net(lambda c, m: None, mdm=_MDM_UP)
        assert False
    except NetworkDown as e:
        assert "silent" in str(e)
    assert ticks_diff(ticks_ms(), t0) < 5000


def test_no_registration_is_network_down():
    def ans(c, m):
        if c == "AT+CEREG?":
            return b"\r\n+CEREG: 5,2,\"FFFE\",\"FFFFFFFF\",7,0,0,,\r\n" + OK
        return slm_a(c, m)
    try:
        _net(ans, mdm=_MDM_UP)
        assert False
    except NetworkDown as e:
        assert "registered" in str(e)
