"""A TCP proxy on loopback that holds every chunk a client sends for a while: a slow server.

Run as ``python -m tests.load.delay_proxy --listen PORT --upstream PORT --delay SECONDS``; it
prints ``ready`` once it listens and serves until it is terminated. Each request reaches the
server ``delay`` seconds late (a large upload arriving in several chunks, a little later
still), so every latency the load test measures grows by at least that much.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    try:
        while chunk := await reader.read(65536):
            if delay:
                await asyncio.sleep(delay)
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, RuntimeError):
            writer.close()


async def _serve(listen: int, upstream: int, delay: float) -> None:
    async def handle(
        client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", upstream)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            _pipe(client_reader, server_writer, delay), _pipe(server_reader, client_writer, 0.0)
        )

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Parse the command line and proxy until terminated."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--upstream", type=int, required=True)
    parser.add_argument("--delay", type=float, required=True)
    arguments = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(arguments.listen, arguments.upstream, arguments.delay))


if __name__ == "__main__":
    main()
