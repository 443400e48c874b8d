"""AES-CCM, HMAC-SHA256, TLS 1.2 PRF and HKDF against published vectors (RFC 3610, NIST SP
800-38C, RFC 4231, RFC 5869, the IETF TLS list PRF test vector); tamper and truncation."""
from binascii import unhexlify

from crypto import CryptoError
from crypto.ccm import CCM
from crypto.hmac import hmac_sha256, tls12_prf, hkdf_sha256, ct_equal


def h(s):
    return unhexlify(s.replace(" ", ""))


def _rejects(ccm, nonce, aad, data):
    try:
        ccm.open(nonce, aad, data)
    except CryptoError:
        return True
    return False


def test_rfc3610_packet_vector_1():
    key = h("C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF")
    nonce = h("00000003020100A0A1A2A3A4A5")          # 13 bytes: L = 2
    pkt = bytes(range(0x1F))
    aad, pt = pkt[:8], pkt[8:]                         # 8 cleartext header bytes
    ccm = CCM(key, 8)
    out = ccm.seal(nonce, aad, pt)
    assert out == h("588C979A61C663D2F066D0C2C0F989806D5F6B61DAC38417E8D12CFDF926E0")
    assert ccm.open(nonce, aad, out) == pt
    # the same key object serves again (key schedule built once per CCM)
    assert ccm.seal(nonce, aad, pt) == out


def test_nist_sp800_38c_example_1():
    key = h("404142434445464748494a4b4c4d4e4f")
    ccm = CCM(key, 4)
    out = ccm.seal(h("10111213141516"), h("0001020304050607"), h("20212223"))
    assert out == h("7162015b4dac255d")
    assert ccm.open(h("10111213141516"), h("0001020304050607"), out) == h("20212223")


def test_nist_sp800_38c_example_3_dtls_shape():
    # 12-byte nonce (L = 3, as in DTLS 1.2 CCM_8), 20-byte AAD, 8-byte tag
    key = h("404142434445464748494a4b4c4d4e4f")
    ccm = CCM(key, 8)
    nonce = h("101112131415161718191a1b")
    aad = bytes(range(20))
    pt = bytes(range(0x20, 0x38))
    out = ccm.seal(nonce, aad, pt)
    assert out == h("e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5484392fbc1b09951")
    assert ccm.open(nonce, aad, out) == pt


def test_ccm_tag16_and_empty_inputs_round_trip():
    key = bytes(range(16))
    nonce = bytes(13)
    for tl in (8, 16):
        ccm = CCM(key, tl)
        for aad, pt in ((b"", b""), (b"", b"x" * 33), (b"a" * 300, b""), (b"a" * 17, b"p" * 16)):
            out = ccm.seal(nonce, aad, pt)
            assert len(out) == len(pt) + tl
            assert ccm.open(nonce, aad, out) == pt


def test_ccm_rejects_tamper_truncation_and_wrong_inputs():
    key = h("C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF")
    nonce = h("00000003020100A0A1A2A3A4A5")
    ccm = CCM(key, 8)
    out = ccm.seal(nonce, b"hdr", b"hello world, this is longer than a block")
    for i in (0, 5, len(out) - 8, len(out) - 1):      # ciphertext and tag bytes
        bad = bytearray(out)
        bad[i] ^= 0x01
        assert _rejects(ccm, nonce, b"hdr", bytes(bad))
    assert _rejects(ccm, nonce, b"hdr", out[:-1])       # truncated tag
    assert _rejects(ccm, nonce, b"hdr", out[:7])        # shorter than the tag
    assert _rejects(ccm, nonce, b"hdX", out)            # other AAD
    assert _rejects(ccm, bytes(13), b"hdr", out)        # other nonce
    assert _rejects(CCM(bytes(16), 8), nonce, b"hdr", out)   # other key
    assert ccm.open(nonce, b"hdr", out) == b"hello world, this is longer than a block"


def test_ccm_bad_parameters():
    for tl in (3, 5, 18):
        try:
            CCM(bytes(16), tl)
            raise AssertionError("tag length %d accepted" % tl)
        except CryptoError:
            pass
    try:
        CCM(bytes(16), 8).seal(bytes(14), b"", b"x")
        raise AssertionError("14-byte nonce accepted")
    except CryptoError:
        pass


def test_rfc4231_hmac_sha256_cases_1_2_6():
    assert hmac_sha256(b"\x0b" * 20, b"Hi There") == \
        h("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    assert hmac_sha256(b"Jefe", b"what do ya want for nothing?") == \
        h("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    assert hmac_sha256(b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First") == \
        h("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")


def test_rfc5869_hkdf_case_1():
    okm = hkdf_sha256(bytes(range(13)), b"\x0b" * 22, bytes(range(0xF0, 0xFA)), 42)
    assert okm == h("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    # a prefix of a longer output (expansion is a stream)
    assert hkdf_sha256(bytes(range(13)), b"\x0b" * 22, bytes(range(0xF0, 0xFA)), 16) == okm[:16]


def test_tls12_prf_sha256_ietf_list_vector():
    out = tls12_prf(h("9bbe436ba940f017b17652849a71db35"), b"test label",
                    h("a0ba9f936cda311827a6f796ffd5198c"), 100)
    assert out == h(
        "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a"
        "6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab"
        "4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701"
        "87347b66")
    # str label gives the same, shorter n is a prefix
    assert tls12_prf(h("9bbe436ba940f017b17652849a71db35"), "test label",
                     h("a0ba9f936cda311827a6f796ffd5198c"), 12) == out[:12]


def test_ct_equal():
    assert ct_equal(b"abc", b"abc")
    assert not ct_equal(b"abc", b"abd")
    assert not ct_equal(b"abc", b"ab")
    assert ct_equal(b"", b"")
