"""RFC 8613 Appendix C.1-C.3: key derivation (info, keys, Common IV, nonces) for client and server.
C.4-C.8 are in test_oscore_messages."""
from binascii import unhexlify

from oscore.context import Context, _info


def h(s):
    return unhexlify(s.replace(" ", ""))


SECRET = h("0102030405060708090a0b0c0d0e0f10")
SALT = h("9e7ca92223786340")


def _ctx_c1_client():
    return Context(SECRET, SALT, b"", h("01"))


def _ctx_c1_server():
    return Context(SECRET, SALT, h("01"), b"")


def test_c1_1_key_derivation_with_master_salt_client():
    assert _info(b"", None, b"Key", 16) == h("8540f60a634b657910")
    assert _info(h("01"), None, b"Key", 16) == h("854101f60a634b657910")
    assert _info(b"", None, b"IV", 13) == h("8540f60a6249560d")
    c = _ctx_c1_client()
    assert c.sender_key == h("f0910ed7295e6ad4b54fc793154302ff")
    assert c.recipient_key == h("ffb14e093c94c9cac9471648b4f98710")
    assert c.common_iv == h("4622d4dd6d944168eefb54987c")
    assert c.nonce(c.sid, b"\x00") == h("4622d4dd6d944168eefb54987c")      # sender nonce
    assert c.nonce(c.rid, b"\x00") == h("4722d4dd6d944169eefb54987c")      # recipient nonce


def test_c1_2_key_derivation_with_master_salt_server():
    s = _ctx_c1_server()
    assert s.sender_key == h("ffb14e093c94c9cac9471648b4f98710")
    assert s.recipient_key == h("f0910ed7295e6ad4b54fc793154302ff")
    assert s.common_iv == h("4622d4dd6d944168eefb54987c")
    assert s.nonce(s.sid, b"\x00") == h("4722d4dd6d944169eefb54987c")
    assert s.nonce(s.rid, b"\x00") == h("4622d4dd6d944168eefb54987c")


def test_c2_key_derivation_without_master_salt():
    assert _info(h("00"), None, b"Key", 16) == h("854100f60a634b657910")
    c = Context(SECRET, b"", h("00"), h("01"))
    assert c.sender_key == h("321b26943253c7ffb6003b0b64d74041")
    assert c.recipient_key == h("e57b5635815177cd679ab4bcec9d7dda")
    assert c.common_iv == h("be35ae297d2dace910c52e99f9")
    assert c.nonce(c.sid, b"\x00") == h("bf35ae297d2dace910c52e99f9")
    assert c.nonce(c.rid, b"\x00") == h("bf35ae297d2dace810c52e99f9")
    s = Context(SECRET, None, h("01"), h("00"))
    assert s.sender_key == h("e57b5635815177cd679ab4bcec9d7dda")
    assert s.recipient_key == h("321b26943253c7ffb6003b0b64d74041")
    assert s.nonce(s.sid, b"\x00") == h("bf35ae297d2dace810c52e99f9")


def test_c3_key_derivation_with_id_context():
    idc = h("37cbf3210017a2d3")
    assert _info(b"", idc, b"Key", 16) == h("85404837cbf3210017a2d30a634b657910")
    assert _info(h("01"), idc, b"Key", 16) == h("8541014837cbf3210017a2d30a634b657910")
    assert _info(b"", idc, b"IV", 13) == h("85404837cbf3210017a2d30a6249560d")
    c = Context(SECRET, SALT, b"", h("01"), idc)
    assert c.sender_key == h("af2a1300a5e95788b356336eeecd2b92")
    assert c.recipient_key == h("e39a0c7c77b43f03b4b39ab9a268699f")
    assert c.common_iv == h("2ca58fb85ff1b81c0b7181b85e")
    assert c.nonce(c.sid, b"\x00") == h("2ca58fb85ff1b81c0b7181b85e")
    assert c.nonce(c.rid, b"\x00") == h("2da58fb85ff1b81d0b7181b85e")
    s = Context(SECRET, SALT, h("01"), b"", idc)
    assert s.sender_key == h("e39a0c7c77b43f03b4b39ab9a268699f")
    assert s.nonce(s.sid, b"\x00") == h("2da58fb85ff1b81d0b7181b85e")
