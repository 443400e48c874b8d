"""Firmware download from a CoAP server we did not write: aiocoap serves the package (its own
RFC 7959 Block2 implementation) on another host:port than the LwM2M server, so the device pulls
it over a plain CoAP exchange of its own (lwm2m/fota.py), after its wake's work, over several
wakes; the image it verified from its slot is byte for byte the package's. aiocoap answers a
later block asked from a new address (a new wake, a new source port) with 4.08 until block 0
came from there: the device then fetches block 0 once, checks it is still the same package,
and goes on where it stopped."""
import asyncio
import os
import socket
import sys

import pytest

from scenario_util import base, runner

aiocoap = pytest.importorskip("aiocoap")
import aiocoap.resource as resource  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tools"))
import fwpkg  # noqa: E402
from harness import blockserve  # noqa: E402


class Package(resource.Resource):
    def __init__(self, data):
        super().__init__()
        self.data = data
        self.gets = 0

    async def render_get(self, request):
        self.gets += 1
        return aiocoap.Message(payload=self.data)


def _free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def test_pull_from_aiocoap_over_several_wakes(tmp_path):
    img = fwpkg.build_image("0.4.0")
    pkg = blockserve.package(img, "0.4.0")
    res = Package(pkg)

    async def go():
        site = resource.Site()
        site.add_resource(["fw", "v4.bin"], res)
        port = _free_port()
        ctx = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", port))
        try:
            uri = "coap://127.0.0.1:%d/fw/v4.bin" % port
            sc = base(wakes=7, actions={1: [("write", "/5/0/1", uri)], 6: [("read", "/5/0/3"), ("read", "/5/0/7")]})
            sc["board"]["fota"] = {"wake_uJ": 500000}
            sc["board"]["schedule"]["report"] = "none"
            return await asyncio.wait_for(runner.run_scenario("t", sc, out_dir=None, quiet=True, workdir=str(tmp_path)), 300)
        finally:
            await ctx.shutdown()

    rep = asyncio.run(go())
    w = rep["wakes"]
    assert all(x["result"] == "ok" for x in w), [(x["result"], x.get("error")) for x in w]
    dl = [x["fota"] for x in w if "downloading" in (x.get("fota") or "") or "downloaded" in (x.get("fota") or "")]
    assert len(dl) >= 2 and "downloaded" in dl[-1], dl          # spread over wakes
    reads = {r["uri"]: r["value"] for x in w for r in x.get("server_reads", ())}
    assert reads["/5/0/3"] == "2" and reads["/5/0/7"] == "0.4.0"
    # aiocoap renders the package once per client address and serves the blocks from that:
    # at each wake (a new source port) the device asks for block 0 again after its 4.08
    assert res.gets >= len(dl)
    with open(os.path.join(str(tmp_path), "device", "slots", "b.bin"), "rb") as f:
        assert f.read() == img                                   # the slot holds the image
