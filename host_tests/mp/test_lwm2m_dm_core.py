"""DM core under micropython too (64 KiB heap: TLV and text only, no SenML): Read codes and
formats, text/TLV Write, Execute, Object 0 never readable, no change on a rejected request."""
from lwm2m_fixture import setup, req, C


def _code(r):
    return C.code_str(r.code)


def test_read_tlv_text_and_codes():
    b, s, reg, dm, dev = setup()
    for path in ("/3", "/3/0", "/3/0/11", "/3/0/11/0", "/4/0", "/1/0"):
        assert _code(dm.handle(req(C.GET, path, accept=11542))) == "2.05", path
    r = dm.handle(req(C.GET, "/3/0/9"))
    assert r.payload == b"87" and r.get_uint(C.CONTENT_FORMAT) == 0
    r = dm.handle(req(C.GET, "/3/0/11/0", accept=11542))
    assert r.payload == b"\x41\x00\x00"          # resource instance 0 = 0
    for path, code in (("/0/0", "4.01"), ("/3/1", "4.04"), ("/3/0/99", "4.04"), ("/42", "4.04"),
                       ("/3/0/4", "4.05")):
        assert _code(dm.handle(req(C.GET, path))) == code, path
    assert _code(dm.handle(req(C.GET, "/3/0", accept=0))) == "4.06"


def test_write_text_tlv_and_rejects():
    b, s, reg, dm, dev = setup()
    assert _code(dm.handle(req(C.PUT, "/1/0/2", b"30", cf=0))) == "2.04"
    assert _code(dm.handle(req(C.POST, "/1/0", b"\xc2\x03\x02\x58", cf=11542))) == "2.04"
    assert reg.get(1).inst[0][2] == 30 and reg.get(1).inst[0][3] == 600
    before = dict(reg.get(1).inst[0])
    flash = dict(b.flash)
    for m, code in ((req(C.PUT, "/1/0/1", b"abc", cf=0), "4.00"),
                    (req(C.POST, "/1/0", b"\xc2\x03\x02", cf=11542), "4.00"),
                    (req(C.PUT, "/1/0/1", b"60", cf=1234), "4.15"),
                    (req(C.PUT, "/1/0/1", b"60"), "4.00"),
                    (req(C.PUT, "/3/0/0", b"x", cf=0), "4.05"),
                    (req(C.PUT, "/0/0/0", b"coap://evil", cf=0), "4.01")):
        assert _code(dm.handle(m)) == code
    assert reg.get(1).inst[0] == before and b.flash == flash


def test_execute_arguments():
    b, s, reg, dm, dev = setup()
    assert _code(dm.handle(req(C.POST, "/3303/0/5605", b"0='a b',1"))) == "2.04"
    assert _code(dm.handle(req(C.POST, "/3303/0/5605", b"0='a"))) == "4.00"
    assert dev.args == [b"0='a b',1"]
    assert _code(dm.handle(req(C.POST, "/3/0/9"))) == "4.05"


def test_decode_errors_are_4_00_and_bugs_are_5_00():
    # 4.00 only for what the decoding steps reject (fmt.DecodeError); a programming error in
    # the device's own code (here: an Execute action that raises) is a bug: 5.00, not hidden
    # as the server's error
    b, s, reg, dm, dev = setup()
    for path, payload, cf in (("/1/0/2", b"x1", 0), ("/1/0/2", b"\xff", 0),
                              ("/1/0", b"\xc2\x03", 11542), ("/1/0/1", b"0", 0)):
        assert _code(dm.handle(req(C.PUT if path.count("/") == 3 else C.POST, path, payload, cf=cf))) == "4.00", path
    assert _code(dm.handle(req(C.PUT, "/3303/0/5700", query=("pmin=x",)))) == "4.00"

    def broken(arg=b""):
        raise ValueError("a bug in the device's action")
    reg.get(3).inst[0][4] = broken          # Reboot
    assert _code(dm.handle(req(C.POST, "/3/0/4"))) == "5.00"

    def broken_read():
        raise KeyError("a bug in a read function")
    reg.get(3).inst[0][9] = broken_read     # Battery Level
    assert _code(dm.handle(req(C.GET, "/3/0/9"))) == "5.00"
