"""The harness console's DM and reporting commands against real device wakes (queue mode):
discover, write-attr, observe, observations, create, delete, writef, sends."""
import asyncio

from scenario_util import runner

from harness.console import command
from harness.server import LwServer
from simclock import SimClock

EP = "urn:dev:unix-0001"


def test_console_dm_and_reporting(tmp_path):
    async def go():
        clock = SimClock(str(tmp_path / "clock"), start=runner.T0)
        server = LwServer(clock)
        host, port = await server.start()
        board = runner.load_board("unix")
        board["server"]["uri"] = "coap://%s:%d" % (host, port)
        board["coap"].update({"ack_timeout_ms": 300})
        board["schedule"].update({"listen_ms": 300})
        dev = runner.Device(str(tmp_path), board, clock_file=clock.path)
        assert (await dev.wake())["result"] == "ok"
        lines = []
        for c in ("write-attr %s /3303/0/5700 pmax=1800" % EP, "observe %s /3303/0/5700" % EP):
            assert command(server, c, lines.append)
        assert lines == ["queued", "queued"]
        clock.advance(3600)
        assert (await dev.wake())["result"] == "ok"
        await asyncio.sleep(0.1)
        # one request per wake (a sleepy device gets few; its heap is 64 KiB)
        for i, c in enumerate(("discover %s /3303/0" % EP,
                               'create %s /3303 senml-json [["/3303/1/5750", "K"]]' % EP,
                               "delete %s /3303/1" % EP,
                               'writef %s /1/0 senml-json {"3": 900}' % EP)):
            command(server, c, lines.append)
            clock.advance(1800)
            w = await dev.wake()
            # a notification can wait for the next wake when the request left the heap short
            assert w["result"] == "ok" and w.get("served") == 1, w
        lines.clear()
        command(server, "observations", lines.append)
        assert len(lines) == 1 and "/3303/0/5700" in lines[0]
        ob = server.observation(EP, "/3303/0/5700")
        assert 2 <= len(ob.notifications) - 1 <= 4 and ob.duplicates == 0
        lines.clear()
        command(server, "sends %s 2" % EP, lines.append)
        assert lines[0] == "%s: 6 Sends, 6 records" % EP and len(lines) == 3
        assert lines[1].startswith("  /3303/0/5700 t=")
        ev = [e for e in server.events if e["ev"] == "response"]
        assert [e["code"] for e in ev] == ["2.04", "2.05", "2.05", "2.01", "2.02", "2.04"]
        assert server.observation(EP, "/3303/0/5700") is not None
        lines.clear()
        command(server, "bogus", lines.append)
        assert lines[0].startswith("commands:")
        command(server, "read nobody /3/0", lines.append)
        assert lines[-1].startswith("error:")
        server.close()
    asyncio.run(asyncio.wait_for(go(), 90))


def test_console_composite(tmp_path):
    # read-composite, write-composite, observe-composite from the console through queue mode
    async def go():
        clock = SimClock(str(tmp_path / "clock"), start=runner.T0)
        server = LwServer(clock)
        host, port = await server.start()
        board = runner.load_board("unix")
        board["server"]["uri"] = "coap://%s:%d" % (host, port)
        board["coap"].update({"ack_timeout_ms": 300})
        board["schedule"].update({"listen_ms": 300})
        dev = runner.Device(str(tmp_path), board, clock_file=clock.path)
        assert (await dev.wake())["result"] == "ok"
        lines = []
        for c in ('write-composite %s senml-json {"/1/0/3": 1800, "/1/0/7": "UQ"}' % EP,
                  "read-composite %s senml-cbor /3/0/9 /1/0/3" % EP,
                  "observe-composite %s senml-json /3303/0/5700 /3/0/9" % EP):
            assert command(server, c, lines.append) and lines[-1] == "queued"
            clock.advance(1800)
            w = await dev.wake()
            assert w["result"] == "ok" and w.get("served") == 1, w
            await asyncio.sleep(0.1)
        clock.advance(1800)
        assert (await dev.wake())["result"] == "ok"
        ev = [(e["op"], e["code"]) for e in server.events if e["ev"] == "response"]
        assert ev == [("write-composite", "2.04"), ("read-composite", "2.05"), ("observe-composite", "2.05")]
        lines.clear()
        command(server, "observations", lines.append)
        assert len(lines) == 1 and "composite:/3303/0/5700,/3/0/9" in lines[0], lines
        ob = server.observation(EP, ["/3303/0/5700", "/3/0/9"])
        assert len(ob.notifications) >= 2
        assert {r["n"] for r in ob.notifications[-1].decoded()} == {"/3303/0/5700", "/3/0/9"}
        command(server, "read-composite %s tlv /3/0/9" % EP, lines.append)
        assert lines[-1].startswith("error:")
        server.close()
    asyncio.run(asyncio.wait_for(go(), 90))
