"""Part 11's benchmark: the fast poetry server on Twisted itself.

The third column of `cargo bench --bench servers`: the server that
`fastpoetry` (mini-twisted) and `fastpoetry-tokio` imitate, written on the
real Twisted so that the three can be measured side by side. It takes the
same command line and prints the same first line as the other two:

    python3 benches/fastpoetry_twisted.py --port 10000 poetry/ecstasy.txt

It needs Twisted (`pip install twisted`); the benchmark skips this column,
and says so, when `python3 -c "import twisted"` fails.
"""

import argparse
import socket
import sys

from twisted.internet import protocol, reactor

# The same listen queue as the Rust servers, so that a burst of 1,000
# connections meets the same queue everywhere (listenTCP's own is 50).
BACKLOG = 1024


class PoetryProtocol(protocol.Protocol):
    """One client: hand over the whole poem, then hang up."""

    def connectionMade(self):
        self.transport.write(self.factory.poem)
        # Closes once everything written so far has been sent.
        self.transport.loseConnection()


class PoetryFactory(protocol.ServerFactory):
    """Holds the poem, read once, for every connection."""

    protocol = PoetryProtocol

    def __init__(self, poem):
        self.poem = poem


def main():
    parser = argparse.ArgumentParser(
        prog="fastpoetry_twisted.py",
        description="Fast Poetry Server, Twisted edition: sends the whole "
        "poem to every client at once, then closes the connection.",
    )
    parser.add_argument(
        "--port", type=int, default=0,
        help="the port to listen on (default: a free port chosen by the system)",
    )
    parser.add_argument(
        "--iface", default="localhost",
        help="the network interface to listen on (default: localhost)",
    )
    parser.add_argument("poetry_file", metavar="POETRY-FILE", help="the poem to serve")
    args = parser.parse_args()

    try:
        with open(args.poetry_file, "rb") as poem_file:
            poem = poem_file.read()
    except OSError as error:
        sys.stderr.write(
            "fastpoetry_twisted.py: cannot read %s: %s\n" % (args.poetry_file, error.strerror)
        )
        return 1

    try:
        # An IPv4 address, as the Rust servers choose for a name.
        host = socket.gethostbyname(args.iface)
        port = reactor.listenTCP(
            args.port, PoetryFactory(poem), backlog=BACKLOG, interface=host
        )
    except Exception as error:  # bad name, port in use: say which, and stop
        sys.stderr.write(
            "fastpoetry_twisted.py: cannot listen on %s:%s: %s\n" % (args.iface, args.port, error)
        )
        return 1

    address = port.getHost()
    print("Serving %s on %s:%d." % (args.poetry_file, address.host, address.port))
    sys.stdout.flush()
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
