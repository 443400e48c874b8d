"""RFC 8613 Appendix C.1-C.3: key derivation (info, keys, Common IV, nonces) for client and server.
C.4-C.8 are in test_oscore_messages."""
from binascii import unhexlify

from oscore import nonce
from oscore.kdf import context, info, keys


def h(s):
    return unhexlify(s.replace(" ", ""))


SECRET = h("0102030405060708090a0b0c0d0e0f10")
SALT = h("9e7ca92223786340")


def test_c1_1_key_derivation_with_master_salt_client():
    assert info(b"", None, b"Key", 16) == h("8540f60a634b657910")
    assert info(h("01"), None, b"Key", 16) == h("854101f60a634b657910")
    assert info(b"", None, b"IV", 13) == h("8540f60a6249560d")
    k = keys(SECRET, SALT, b"", h("01"))
    assert k[:16] == h("f0910ed7295e6ad4b54fc793154302ff")          # sender key
    assert k[16:32] == h("ffb14e093c94c9cac9471648b4f98710")        # recipient key
    assert k[32:] == h("4622d4dd6d944168eefb54987c")                # common IV
    c = context(SECRET, SALT, b"", h("01"))
    assert c.key[2] == h("4622d4dd6d944168eefb54987c")
    assert nonce(c, c.sid, b"\x00") == h("4622d4dd6d944168eefb54987c")      # sender nonce
    assert nonce(c, c.rid, b"\x00") == h("4722d4dd6d944169eefb54987c")      # recipient nonce


def test_c1_2_key_derivation_with_master_salt_server():
    k = keys(SECRET, SALT, h("01"), b"")
    assert k[:16] == h("ffb14e093c94c9cac9471648b4f98710")
    assert k[16:32] == h("f0910ed7295e6ad4b54fc793154302ff")
    assert k[32:] == h("4622d4dd6d944168eefb54987c")
    s = context(SECRET, SALT, h("01"), b"")
    assert nonce(s, s.sid, b"\x00") == h("4722d4dd6d944169eefb54987c")
    assert nonce(s, s.rid, b"\x00") == h("4622d4dd6d944168eefb54987c")


def test_c2_key_derivation_without_master_salt():
    assert info(h("00"), None, b"Key", 16) == h("854100f60a634b657910")
    k = keys(SECRET, b"", h("00"), h("01"))
    assert k[:16] == h("321b26943253c7ffb6003b0b64d74041")
    assert k[16:32] == h("e57b5635815177cd679ab4bcec9d7dda")
    assert k[32:] == h("be35ae297d2dace910c52e99f9")
    c = context(SECRET, b"", h("00"), h("01"))
    assert nonce(c, c.sid, b"\x00") == h("bf35ae297d2dace910c52e99f9")
    assert nonce(c, c.rid, b"\x00") == h("bf35ae297d2dace810c52e99f9")
    s = keys(SECRET, None, h("01"), h("00"))
    assert s[:16] == h("e57b5635815177cd679ab4bcec9d7dda")
    assert s[16:32] == h("321b26943253c7ffb6003b0b64d74041")
    s = context(SECRET, None, h("01"), h("00"))
    assert nonce(s, s.sid, b"\x00") == h("bf35ae297d2dace810c52e99f9")


def test_c3_key_derivation_with_id_context():
    idc = h("37cbf3210017a2d3")
    assert info(b"", idc, b"Key", 16) == h("85404837cbf3210017a2d30a634b657910")
    assert info(h("01"), idc, b"Key", 16) == h("8541014837cbf3210017a2d30a634b657910")
    assert info(b"", idc, b"IV", 13) == h("85404837cbf3210017a2d30a6249560d")
    k = keys(SECRET, SALT, b"", h("01"), idc)
    assert k[:16] == h("af2a1300a5e95788b356336eeecd2b92")
    assert k[16:32] == h("e39a0c7c77b43f03b4b39ab9a268699f")
    assert k[32:] == h("2ca58fb85ff1b81c0b7181b85e")
    c = context(SECRET, SALT, b"", h("01"), idc)
    assert nonce(c, c.sid, b"\x00") == h("2ca58fb85ff1b81c0b7181b85e")
    assert nonce(c, c.rid, b"\x00") == h("2da58fb85ff1b81d0b7181b85e")
    s = context(SECRET, SALT, h("01"), b"", idc)
    assert keys(SECRET, SALT, h("01"), b"", idc)[:16] == h("e39a0c7c77b43f03b4b39ab9a268699f")
    assert nonce(s, s.sid, b"\x00") == h("2da58fb85ff1b81d0b7181b85e")


def test_long_ids_and_id_context_refused_or_encoded():
    try:
        keys(SECRET, SALT, bytes(8), b"")
        raise AssertionError("8-byte Sender ID accepted")
    except ValueError:
        pass
    # an ID Context of 24 bytes and more needs a 2-byte CBOR head
    assert info(b"", bytes(24), b"IV", 13)[:3] == h("854058")
