"""Publishes a file event to filewithext.<ext> for a few extensions, every second.

    python3 publisher.py [router URL, default ws://localhost:6001/ws]

A plain autobahn-python ApplicationSession: it runs against Crossbar.io or Herald alike.
Debian/Ubuntu: apt-get install python3-autobahn, then run it with /usr/bin/python3.
"""
import asyncio
import os
import sys

from autobahn.asyncio.wamp import ApplicationRunner, ApplicationSession

EXTENSIONS = ["txt", "png", "pdf", "csv"]


class FilePublisher(ApplicationSession):
    async def onJoin(self, details):
        print("joined realm1 as session", details.session, flush=True)
        n = 0
        while True:
            for ext in EXTENSIONS:
                name = "file%d.%s" % (n, ext)
                self.publish("filewithext." + ext, name, size=1000 + n)
            print("published file%d.*" % n, flush=True)
            n += 1
            await asyncio.sleep(1)

    def onDisconnect(self):
        asyncio.get_event_loop().stop()


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("ROUTER", "ws://localhost:6001/ws")
    ApplicationRunner(url, "realm1").run(FilePublisher)
