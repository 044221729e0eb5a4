"""A TCP proxy in front of the current Redis primary that can go silent: a partition, on demand.

One server of the fault layout reaches Redis through it (a plain ``REDIS_URL``, like a server
behind a floating address), so a test can cut that server alone off from Redis. Each new
connection goes to the primary the Sentinels name at that moment. SIGUSR1 silences the proxy:
connections stay open, old and new, and nothing is read or written any more (a Redis that accepts
but never answers). SIGUSR2 lets everything flow again.

    python -m tests.faults.redis_proxy --port 26470 --sentinels 127.0.0.1:26430,... --master secureai
"""

import argparse
import asyncio
import signal

from redis.asyncio.sentinel import Sentinel

CHUNK = 65536


class SilenceableProxy:
    def __init__(self, sentinel: Sentinel, master: str) -> None:
        self.sentinel = sentinel
        self.master = master
        self.flowing = asyncio.Event()
        self.flowing.set()

    def silence(self) -> None:
        print("silent: nothing is read or written until SIGUSR2", flush=True)
        self.flowing.clear()

    def resume(self) -> None:
        print("flowing again", flush=True)
        self.flowing.set()

    async def handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            await self.flowing.wait()
            host, port = await self.sentinel.discover_master(self.master)
            upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        except Exception:  # no primary known or reachable: the client sees a closed connection
            client_writer.close()
            return
        await asyncio.gather(
            self.pipe(client_reader, upstream_writer), self.pipe(upstream_reader, client_writer), return_exceptions=True
        )

    async def pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy one direction while flowing; an end on either side closes this side's writer."""
        try:
            while True:
                await self.flowing.wait()
                data = await reader.read(CHUNK)
                if not data:
                    break
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


async def serve(port: int, sentinels: list[tuple[str, int]], master: str) -> None:
    proxy = SilenceableProxy(Sentinel(sentinels, socket_timeout=1), master)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, proxy.silence)
    loop.add_signal_handler(signal.SIGUSR2, proxy.resume)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", port)
    print(f"proxying 127.0.0.1:{port} to the primary {master!r}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sentinels", required=True, help="host:port,host:port,...")
    parser.add_argument("--master", required=True)
    args = parser.parse_args()
    sentinels = [(host, int(port)) for host, port in (entry.rsplit(":", 1) for entry in args.sentinels.split(","))]
    asyncio.run(serve(args.port, sentinels, args.master))


if __name__ == "__main__":
    main()
