"""The unix board: RTC memory limit enforced like the ESP32's, flash survives an RTC loss."""
import os
import sys


def _board(tag):
    if sys.platform not in ("linux", "darwin"):
        return None
    d = "/tmp/lwm2m-board-test-%s-%s" % (tag, os.urandom(4).hex() if hasattr(bytes, "hex") else "x")
    from board.unix import UnixBoard
    b = UnixBoard()
    b.dir = d
    try:
        os.mkdir(d)
    except OSError:
        pass
    try:
        os.mkdir(d + "/flash")
    except OSError:
        pass
    return b


def test_rtc_memory_limit_is_enforced():
    b = _board("rtc")
    b.rtc_write(bytes(2048))
    assert len(b.rtc_read()) == 2048
    try:
        b.rtc_write(bytes(2049))
        raise AssertionError("2049-byte RTC write accepted")
    except ValueError as e:
        assert "2048" in str(e)
    assert len(b.rtc_read()) == 2048          # the failed write changed nothing


def test_flash_store_round_trip():
    b = _board("flash")
    b.flash_write("k", b"\x00\x01value")
    assert b.flash_read("k") == b"\x00\x01value"
    assert b.flash_read("missing") is None
    b.flash_erase("k")
    assert b.flash_read("k") is None
