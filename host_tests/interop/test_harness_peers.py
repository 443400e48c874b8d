"""Peers we did not write against the harness server's own DTLS and OSCORE plugins (which share
no code with the firmware: host_tests/unit/test_harness_independent.py): an aiocoap OSCORE
client (also through the plugin's App. B.1.2 Echo round after a restart), a python-mbedtls
(Mbed TLS 2.28) DTLS client with extended master secret, and openssl s_client resuming by
session ID from the plugin's cache. Every wait is bounded; loopback only, ports from bind(0);
peers missing from the system skip with the reason."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from harness import coap as C
from interop.plugin_host import PluginHost       # the test's host (imports the firmware codec itself)

PY = sys.executable
PSK = "000102030405060708090a0b0c0d0e0f"
SECRET = bytes.fromhex("0102030405060708090a0b0c0d0e0f10")
SALT = bytes.fromhex("9e7ca92223786340")


def test_aiocoap_oscore_client_against_harness_plugin(tmp_path):
    pytest.importorskip("aiocoap")
    exe = os.path.join(os.path.dirname(PY), "aiocoap-client")
    if not os.path.exists(exe):
        pytest.skip("aiocoap-client not installed")
    from harness.oscore_server import OscorePlugin
    ctx = tmp_path / "client-ctx"
    ctx.mkdir()
    # RFC 8613 C.1.1: the client's view (Sender ID empty, Recipient ID 01)
    (ctx / "settings.json").write_text(json.dumps({
        "sender-id_hex": "", "recipient-id_hex": "01", "secret_hex": SECRET.hex(), "salt_hex": SALT.hex()}))
    client = {"master_secret": SECRET.hex(), "master_salt": SALT.hex(), "sender_id": "", "recipient_id": "01"}
    with PluginHost(OscorePlugin, clients=[client]) as host:
        creds = tmp_path / "client.json"
        creds.write_text(json.dumps({"coap://127.0.0.1:%d/*" % host.port: {"oscore": {"basedir": str(ctx) + "/"}}}))
        outs = []
        for path in ("sensors/temp", "again", "after-restart"):   # later SSNs from the same context
            lock = ctx / "lock"
            if lock.exists():
                lock.unlink()
            if path == "after-restart":
                host.call(host.plugin.restart)     # replay window lost: App. B.1.2 Echo round
            r = subprocess.run([exe, "--credentials", str(creds), "coap://127.0.0.1:%d/%s" % (host.port, path)],
                               capture_output=True, text=True, timeout=60)
            outs.append(r.stdout + r.stderr)
        st = host.plugin.stats
        echo = host.plugin.clients[b""].echo
        assert [m.path() for _i, mode, _a, m in host.delivered] == ["sensors/temp", "again", "after-restart"], outs
        assert all(mode == "oscore" for _i, mode, _a, _m in host.delivered)
        assert host.delivered[2][3].get(C.ECHO) == echo      # aiocoap repeated it with our Echo
    assert "hello sensors/temp" in outs[0] and "hello again" in outs[1] and "hello after-restart" in outs[2], outs
    assert st["replay"] == 0 and st["verify_failed"] == 0 and st["echo"] == 1


def test_mbedtls_dtls_client_against_harness_plugin():
    mt = pytest.importorskip("mbedtls.tls")
    from harness.dtls_server import DtlsPlugin
    conf = mt.DTLSConfiguration(pre_shared_key=("Client_identity", bytes.fromhex(PSK)), ciphers=["TLS-PSK-WITH-AES-128-CCM-8"],
                                validate_certificates=False, lowest_supported_version=mt.DTLSVersion.DTLSv1_2,
                                highest_supported_version=mt.DTLSVersion.DTLSv1_2)
    with PluginHost(DtlsPlugin) as host:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(10)
        cli = mt.ClientContext(conf).wrap_socket(s, server_hostname=None)
        try:
            cli.connect(("127.0.0.1", host.port))
            cli.do_handshake()
            cli.send(C.encode(C.Message(C.CON, C.GET, 0x1234, b"\x11").set_path("mbed")))
            resp = C.decode(cli.recv(1024))
        finally:
            s.close()
        assert resp.code == C.CONTENT and resp.mid == 0x1234 and resp.payload == b"hello mbed"
        assert host.plugin.stats["handshakes"] == 1 and host.plugin.stats["hvr"] == 1
        ev = [f for k, f in host.events if k == "dtls-handshake"]
        assert ev and ev[0]["ident"] == "Client_identity"
        assert ev[0]["ems"] is True          # Mbed TLS offers extended_master_secret: RFC 7627 keys agree


def test_openssl_s_client_resumes_from_the_plugins_session_cache(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    from harness.dtls_server import DtlsPlugin
    sess = str(tmp_path / "s.pem")
    with PluginHost(DtlsPlugin) as host:
        outs = []
        for i, extra in enumerate((["-sess_out", sess], ["-sess_in", sess])):
            n0 = len(host.delivered)
            p = subprocess.Popen(["openssl", "s_client", "-dtls1_2", "-connect", "127.0.0.1:%d" % host.port,
                                  "-psk", PSK, "-psk_identity", "Client_identity", "-cipher", "PSK-AES128-CCM8"]
                                 + extra, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            p.stdin.write(C.encode(C.Message(C.CON, C.GET, 0x100 + i, b"\x22").set_path("r%d" % i)))
            p.stdin.flush()
            t0 = time.time()
            while len(host.delivered) == n0 and time.time() - t0 < 15:
                time.sleep(0.1)
            time.sleep(0.3)
            try:
                out = p.communicate(timeout=15)[0]      # EOF: close_notify, exit
            except subprocess.TimeoutExpired:
                p.kill()
                out = p.communicate(timeout=5)[0]
            outs.append(out)
            assert len(host.delivered) == n0 + 1, out[-2000:]
        st = dict(host.plugin.stats)
    assert [m.path() for _i, _mo, _a, m in host.delivered] == ["r0", "r1"]
    assert st["handshakes"] == 1 and st["resumptions"] == 1, st
    assert b"Reused" in outs[1] and b"hello r1" in outs[1], outs[1][-2000:]
