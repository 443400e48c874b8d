"""An aiocoap OSCORE server for interop tests: /hello (GET: "Hello World!", POST: echo of the
payload with 2.04) and /rd/5a3f (POST: 2.04), reachable only through OSCORE.

    aiocoap_oscore_server.py PORT CONTEXT_DIR

CONTEXT_DIR is an aiocoap FilesystemSecurityContext directory (settings.json; aiocoap keeps
sequence.json and a 'lock' file there). Prints "ready PORT" once it listens on 127.0.0.1.
"""
import asyncio
import sys

import aiocoap
import aiocoap.resource as resource
from aiocoap.credentials import CredentialsMap
from aiocoap.oscore_sitewrapper import OscoreSiteWrapper


class Hello(resource.Resource):
    async def render_get(self, request):
        return aiocoap.Message(payload=b"Hello World!")

    async def render_post(self, request):
        return aiocoap.Message(code=aiocoap.CHANGED, payload=request.payload)


class Update(resource.Resource):
    async def render_post(self, request):
        return aiocoap.Message(code=aiocoap.CHANGED)


async def main(port, ctxdir):
    site = resource.Site()
    site.add_resource(["hello"], Hello())
    site.add_resource(["rd", "5a3f"], Update())
    creds = CredentialsMap()
    creds.load_from_dict({":client": {"oscore": {"basedir": ctxdir}}})
    wrapped = OscoreSiteWrapper(site, creds)
    ctx = await aiocoap.Context.create_server_context(wrapped, bind=("127.0.0.1", port))
    ctx.server_credentials = creds
    print("ready", port, flush=True)
    await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
