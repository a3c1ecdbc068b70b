"""Part 22's benchmark: the slow poetry server on Twisted itself.

A column of `cargo bench --bench c10k`: Part 2's slow server written the
way a Twisted user would write it, a callLater per connection between two
sends, so that `slowpoetry-reactor` (mini-twisted) and `slowpoetry-tokio`
can be measured beside it. The same command line and lines as the Rust
servers:

    python3 benches/slowpoetry_twisted.py --port 10000 poetry/science.txt

It needs Twisted (`pip install twisted`); the benchmark skips this column,
and says so, when `python3 -c "import twisted"` fails.
"""

import argparse
import socket
import sys

from twisted.internet import protocol, reactor

# The same listen queue as the Rust servers (listenTCP's own is 50).
BACKLOG = 1024


class SlowPoetryProtocol(protocol.Protocol):
    """One client: a chunk of the poem, a pause, the next chunk..."""

    def connectionMade(self):
        peer = self.transport.getPeer()
        print("Somebody at %s:%d wants poetry!" % (peer.host, peer.port))
        self.sent = 0
        self.next_send = None
        self.send_next()

    def send_next(self):
        poem, size = self.factory.poem, self.factory.num_bytes
        if self.sent == len(poem):
            self.next_send = None
            self.transport.loseConnection()
            return
        chunk = poem[self.sent:self.sent + size]
        print("Sending %d bytes" % len(chunk))
        self.transport.write(chunk)
        self.sent += len(chunk)
        self.next_send = reactor.callLater(self.factory.delay, self.send_next)

    def connectionLost(self, reason):
        if self.next_send is not None and self.next_send.active():
            self.next_send.cancel()
            sys.stderr.write(
                "slowpoetry_twisted.py: stopped sending: %s\n" % reason.getErrorMessage()
            )


class SlowPoetryFactory(protocol.ServerFactory):
    """Holds the poem, read once, and the pace, for every connection."""

    protocol = SlowPoetryProtocol

    def __init__(self, poem, num_bytes, delay):
        self.poem = poem
        self.num_bytes = num_bytes
        self.delay = delay


def main():
    parser = argparse.ArgumentParser(
        prog="slowpoetry_twisted.py",
        description="Slow Poetry Server, Twisted edition: serves one poem, "
        "slowly, to every client at once.",
    )
    parser.add_argument(
        "--port", type=int, default=0,
        help="the port to listen on (default: a free port chosen by the system)",
    )
    parser.add_argument(
        "--iface", default="localhost",
        help="the network interface to listen on (default: localhost)",
    )
    parser.add_argument(
        "--delay", type=float, default=0.1,
        help="seconds to pause after each send (default: 0.1)",
    )
    parser.add_argument(
        "--num-bytes", type=int, default=10,
        help="how many bytes to send at a time (default: 10)",
    )
    parser.add_argument("poetry_file", metavar="POETRY-FILE", help="the poem to serve")
    args = parser.parse_args()
    if args.num_bytes < 1 or args.delay < 0:
        parser.error("--num-bytes must be at least 1 and --delay not negative")

    try:
        with open(args.poetry_file, "rb") as poem_file:
            poem = poem_file.read()
    except OSError as error:
        sys.stderr.write(
            "slowpoetry_twisted.py: cannot read %s: %s\n" % (args.poetry_file, error.strerror)
        )
        return 1

    try:
        host = socket.gethostbyname(args.iface)
        factory = SlowPoetryFactory(poem, args.num_bytes, args.delay)
        port = reactor.listenTCP(args.port, factory, backlog=BACKLOG, interface=host)
    except Exception as error:  # bad name, port in use: say which, and stop
        sys.stderr.write(
            "slowpoetry_twisted.py: cannot listen on %s:%s: %s\n" % (args.iface, args.port, error)
        )
        return 1

    print("Serving %s on port %d." % (args.poetry_file, port.getHost().port))
    sys.stdout.flush()
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
