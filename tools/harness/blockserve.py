"""Block-wise transfers for the harness server (RFC 7959), with the harness's own CoAP codec:
firmware packages served by GET with Block2 (`serve`), and a Package pushed by block-wise
Write with Block1 (`push`). Also `package()`: a firmware package as the device expects it
(docs/fota.md: b"LWFW" | size | SHA-256 | version | image).
"""
import asyncio
import hashlib
import struct

from harness import coap as C

CF_OPAQUE = 42


def package(image, version, sha=None):
    """The 48-byte header and the image. `sha`: a wrong digest on purpose (tests)."""
    v = version.encode()[:8].ljust(8, b"\0")
    return b"LWFW" + struct.pack(">I", len(image)) + (sha or hashlib.sha256(image).digest()) + v + image


def serve(server, peer, m, data):
    """Answer a GET for `data`: the block the client asks for (Block2), or the first one (the
    server's size, szx 6: 1024 B) when it asks for none."""
    b2 = m.get_uint(C.BLOCK2)
    szx = 6 if b2 is None else min(b2 & 7, 6)
    num = 0 if b2 is None else b2 >> 4
    size = 16 << szx
    off = num * size
    if off >= len(data) and len(data):
        return server.reply(peer, m, C.BAD_OPTION)
    chunk = data[off:off + size]
    more = 1 if off + size < len(data) else 0
    server.log("block2", uri=m.path(), num=num, size=size, more=more, src="%s:%d" % peer.addr)
    opts = [(C.CONTENT_FORMAT, b"\x2a"), (C.BLOCK2, _uint((num << 4) | (more << 3) | szx))]
    if num == 0:
        opts.append((C.SIZE2, _uint(len(data))))
    return server.reply(peer, m, C.CONTENT, chunk, opts=opts)


def _uint(v):
    return v.to_bytes((v.bit_length() + 7) // 8, "big") if v else b""


async def push(server, ep, uri, data, szx=5):
    """Write `data` to `uri` block by block (Block1): the first request waits in the queue for the
    client's next wake, the rest go out at once while it listens. Returns the responses."""
    size = 16 << szx
    out = []
    n = (len(data) + size - 1) // size
    for num in range(n):
        more = 1 if num + 1 < n else 0
        reg = server.regs[ep]
        m = C.Message(C.CON, C.PUT)
        m.set_path(uri)
        m.add(C.CONTENT_FORMAT, CF_OPAQUE)
        m.add(C.BLOCK1, (num << 4) | (more << 3) | szx)
        m.payload = data[num * size:(num + 1) * size]
        fut = asyncio.get_running_loop().create_future()
        if num == 0 and reg.queue:
            reg.queued.append((m, fut))
        else:
            server._send_request(reg, m, fut)
        r = await fut
        out.append(r)
        if r.code not in (C.CONTINUE, C.CHANGED):
            break
    return out
