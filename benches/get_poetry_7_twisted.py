"""Part 22's clients benchmark: client 7.0 on Twisted itself.

The Twisted column beside `get-poetry-7` (mini-twisted) and
`get-poetry-7-tokio` in `cargo bench --bench clients`: the same client,
written on the real Twisted with `inlineCallbacks`, one generator per
poem that waits for the download, then for the transform. It takes the
same command line and prints the same lines as the other two: the first
address is the transform server, the others poetry servers, each as
[host:]port; each poem is printed, lowered, as soon as it is ready.

    python3 benches/get_poetry_7_twisted.py 10001 10002 10003

A download that fails is reported on stderr and counts against the exit
status (1 if any poem could not be fetched); a transform that fails is
reported, and the original poem printed instead. It needs Twisted
(`pip install twisted`); the benchmark skips this column, and says so,
when `python3 -c "import twisted"` fails. `get_poetry_8_twisted.py`
imports its pieces from here.
"""

import argparse
import sys

from twisted.internet import defer, protocol
from twisted.internet.error import ConnectionDone
from twisted.protocols.basic import NetstringReceiver
from twisted.python.failure import Failure


# ---------------------------------------------------------------------------
# Downloading a poem: collect the bytes until the server hangs up.
# ---------------------------------------------------------------------------


class PoetryProtocol(protocol.Protocol):
    def connectionMade(self):
        self.chunks = []

    def dataReceived(self, data):
        self.chunks.append(data)

    def connectionLost(self, reason):
        # A clean close is how a poem ends; a reset is a failure.
        if reason.check(ConnectionDone):
            self.factory.poem_received(b"".join(self.chunks))
        else:
            self.factory.fire(defer.Deferred.errback, reason)


class PoetryClientFactory(protocol.ClientFactory):
    protocol = PoetryProtocol

    def __init__(self, deferred):
        self.deferred = deferred

    def fire(self, method, value):
        # Fire once: whichever of the poem and a failure comes first.
        d, self.deferred = self.deferred, None
        if d is not None:
            method(d, value)

    def poem_received(self, poem):
        try:
            self.fire(defer.Deferred.callback, poem.decode("utf-8"))
        except UnicodeDecodeError as error:
            self.fire(defer.Deferred.errback, error)

    def clientConnectionFailed(self, connector, reason):
        self.fire(defer.Deferred.errback, reason)


def get_poetry(reactor, host, port):
    """A Deferred that fires with the poem at host:port, or a failure."""
    d = defer.Deferred()
    reactor.connectTCP(host, port, PoetryClientFactory(d))
    return d


# ---------------------------------------------------------------------------
# The transform server: one netstring out, one back.
# ---------------------------------------------------------------------------


class NoReply(Exception):
    """The transform server hung up before it answered."""

    def __str__(self):
        return "the transform server closed the connection without a reply"


class TransformClientProtocol(NetstringReceiver):
    def connectionMade(self):
        self.sendString(self.factory.request)

    def stringReceived(self, reply):
        self.transport.loseConnection()
        try:
            self.factory.fire(defer.Deferred.callback, reply.decode("utf-8"))
        except UnicodeDecodeError as error:
            self.factory.fire(defer.Deferred.errback, error)


class TransformClientFactory(protocol.ClientFactory):
    protocol = TransformClientProtocol

    def __init__(self, request, deferred):
        self.request = request
        self.deferred = deferred

    def fire(self, method, value):
        d, self.deferred = self.deferred, None
        if d is not None:
            method(d, value)

    def clientConnectionFailed(self, connector, reason):
        self.fire(defer.Deferred.errback, reason)

    def clientConnectionLost(self, connector, reason):
        # After a reply this does nothing; before one, a clean close means
        # the server had nothing to say.
        if reason.check(ConnectionDone):
            reason = NoReply()
        self.fire(defer.Deferred.errback, reason)


class TransformProxy:
    """The transform server as the rest of the client sees it."""

    def __init__(self, host, port):
        self.host = host
        self.port = port

    def xform(self, reactor, name, poem):
        d = defer.Deferred()
        request = ("%s.%s" % (name, poem)).encode("utf-8")
        reactor.connectTCP(self.host, self.port, TransformClientFactory(request, d))
        return d


# ---------------------------------------------------------------------------
# Client 7.0: one generator per poem.
# ---------------------------------------------------------------------------


@defer.inlineCallbacks
def get_transformed_poem(reactor, proxy, host, port):
    """The poem at host:port, cummingsified (the original if the transform
    failed); fails with the download's failure."""
    try:
        poem = yield get_poetry(reactor, host, port)
    except Exception as error:
        sys.stderr.write("The poem download failed: %s\n" % (error,))
        raise
    try:
        poem = yield proxy.xform(reactor, "cummingsify", poem)
    except Exception as error:
        sys.stderr.write("Cummingsify failed! %s\n" % (error,))
    return poem


def print_poem(poem):
    # Bytes, so that the poem comes out as the server sent it whatever
    # the locale; flushed at exit.
    sys.stdout.buffer.write(poem.encode("utf-8") + b"\n")


def address(text):
    """[host:]port, the host defaulting to 127.0.0.1, as the Rust clients."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") if host else "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError("invalid port in %r" % (text,))
    return host, int(port)


def parse_args(prog, description):
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog="Exits with status 1 if any poem could not be fetched.",
    )
    parser.add_argument(
        "transform", metavar="XFORM-ADDR", type=address, nargs="?",
        help="the transform server, as [host:]port; the host defaults to 127.0.0.1",
    )
    parser.add_argument(
        "servers", metavar="ADDR", type=address, nargs="*",
        help="the servers to get poetry from, as [host:]port",
    )
    args = parser.parse_args()
    if args.transform is None or not args.servers:
        # A transform server and at least one poetry server, or nothing to do.
        parser.print_help()
        sys.exit(0)
    return args


def main():
    args = parse_args(
        "get_poetry_7_twisted.py",
        "Get Poetry Now! Client 7.0 on Twisted: an inlineCallbacks "
        "generator per poem.",
    )
    from twisted.internet import reactor

    proxy = TransformProxy(*args.transform)
    outcome = {"done": 0, "failed": False}

    def poem_done(result):
        if isinstance(result, Failure):
            # Reported already by get_transformed_poem; handled here.
            outcome["failed"] = True
        outcome["done"] += 1
        if outcome["done"] == len(args.servers):
            reactor.stop()

    for host, port in args.servers:
        d = get_transformed_poem(reactor, proxy, host, port)
        d.addCallback(print_poem)
        d.addBoth(poem_done)

    reactor.run()
    return 1 if outcome["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
