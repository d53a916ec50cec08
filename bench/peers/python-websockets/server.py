"""Peer for bench/run: a Python `websockets` broadcast server over TLS
doing the same work as one SecureChat room: every text message a client
sends is sent to every connected client (the sender too).

    python server.py CERT.pem KEY.pem   (prints "listening on PORT")
"""

import asyncio
import ssl
import sys

from websockets.asyncio.server import broadcast, serve

CLIENTS = set()


async def handler(ws):
    CLIENTS.add(ws)
    try:
        async for message in ws:
            broadcast(CLIENTS, message)
    finally:
        CLIENTS.discard(ws)


async def main(cert, key):
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    async with serve(
        handler,
        "127.0.0.1",
        0,
        ssl=tls,
        compression=None,
        ping_interval=None,
        max_queue=None,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"listening on {port}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:3]))
