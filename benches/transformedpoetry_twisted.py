"""Part 12's benchmark: the poetry transformation server on Twisted itself.

The Twisted column of the `transform` and `hold` sections of
`cargo bench --bench servers`: the server that `transformedpoetry`
(mini-twisted) and `transformedpoetry-tokio` are measured beside, on the
real Twisted and its NetstringReceiver. The same command line and first
line as the other two:

    python3 benches/transformedpoetry_twisted.py --port 10001

One netstring in, `cummingsify.POEM`; the poem in lower case out, as a
netstring; then the close. Any other request is closed without a reply.
It needs Twisted (`pip install twisted`); the benchmark skips this column,
and says so, when `python3 -c "import twisted"` fails.
"""

import argparse
import socket
import sys

from twisted.internet import protocol, reactor
from twisted.protocols.basic import NetstringReceiver

# The listen queue of the Rust servers, so that a burst of connections
# meets the same queue everywhere (listenTCP's own is 50).
BACKLOG = 1024

PREFIX = b"cummingsify."


class TransformProtocol(NetstringReceiver):
    """One request, one reply, then the close."""

    def stringReceived(self, request):
        if request.startswith(PREFIX):
            try:
                poem = request[len(PREFIX):].decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                self.sendString(poem.lower().encode("utf-8"))
        # Closes once the reply, if any, has been sent.
        self.transport.loseConnection()


class TransformFactory(protocol.ServerFactory):
    protocol = TransformProtocol


def main():
    parser = argparse.ArgumentParser(
        prog="transformedpoetry_twisted.py",
        description="Poetry Transform Server, Twisted edition: answers "
        "cummingsify.POEM netstrings with the poem in lower case.",
    )
    parser.add_argument(
        "--port", type=int, default=0,
        help="the port to listen on (default: a free port chosen by the system)",
    )
    parser.add_argument(
        "--iface", default="localhost",
        help="the network interface to listen on (default: localhost)",
    )
    args = parser.parse_args()

    try:
        # An IPv4 address, as the Rust servers choose for a name.
        host = socket.gethostbyname(args.iface)
        port = reactor.listenTCP(
            args.port, TransformFactory(), backlog=BACKLOG, interface=host
        )
    except Exception as error:  # bad name, port in use: say which, and stop
        sys.stderr.write(
            "transformedpoetry_twisted.py: cannot listen on %s:%s: %s\n"
            % (args.iface, args.port, error)
        )
        return 1

    address = port.getHost()
    print("Serving transforms on %s:%d." % (address.host, address.port))
    sys.stdout.flush()
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
