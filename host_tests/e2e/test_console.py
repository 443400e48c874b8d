"""The harness console against a real device wake: list, read through queue mode, events."""
import asyncio
import io
import os
import sys

from scenario_util import runner

sys.path.insert(0, os.path.join(runner.ROOT, "tools"))
from harness.console import command  # noqa: E402
from harness.server import LwServer  # noqa: E402
from simclock import SimClock  # noqa: E402


def test_console_list_read_events(tmp_path):
    async def go():
        clock = SimClock(str(tmp_path / "clock"), start=runner.T0)
        server = LwServer(clock)
        host, port = await server.start()
        board = runner.load_board("unix")
        board["server"]["uri"] = "coap://%s:%d" % (host, port)
        board["coap"].update(runner.FAST_COAP if hasattr(runner, "FAST_COAP") else {"ack_timeout_ms": 300})
        board["schedule"].update({"listen_ms": 300, "report": "none"})
        dev = runner.Device(str(tmp_path), board, clock_file=clock.path)
        w0 = await dev.wake()
        assert w0["result"] == "ok", w0
        lines = []
        assert command(server, "list", lines.append)
        assert "urn:dev:unix-0001" in lines[0] and "queue=True" in lines[0]
        lines.clear()
        command(server, "read urn:dev:unix-0001 /3/0/0", lines.append)
        assert lines == ["queued"]
        fut = server.regs["urn:dev:unix-0001"].queued[-1][1]
        clock.advance(3600)
        w1 = await dev.wake()
        assert w1["result"] == "ok" and w1.get("served") == 1
        r = await asyncio.wait_for(fut, 5)
        assert r.code == 69 and r.decoded() == "LwM2M-sleepy"
        lines.clear()
        command(server, "events 3", lines.append)
        assert len(lines) == 3
        assert not command(server, "quit", lines.append)
        server.close()
    asyncio.run(asyncio.wait_for(go(), 60))
