"""Part 22's clients benchmark: client 8.0 on Twisted itself.

The Twisted column beside `get-poetry-8` (mini-twisted) and
`get-poetry-8-tokio` in `cargo bench --bench clients`: client 7.0's
`inlineCallbacks` generator per poem, unchanged (imported from
`get_poetry_7_twisted.py`, beside this file), with the poems' Deferreds
waited for as one `DeferredList` that stops the reactor when it fires.
The same command line and the same lines as the other two:

    python3 benches/get_poetry_8_twisted.py 10001 10002 10003

Exits with status 1 if any poem could not be fetched. It needs Twisted
(`pip install twisted`); the benchmark skips this column, and says so,
when `python3 -c "import twisted"` fails.
"""

import sys

from twisted.internet import defer

# Python puts this script's directory first on the import path.
from get_poetry_7_twisted import TransformProxy, get_transformed_poem, parse_args, print_poem


def main():
    args = parse_args(
        "get_poetry_8_twisted.py",
        "Get Poetry Now! Client 8.0 on Twisted: one DeferredList for all "
        "the poems.",
    )
    from twisted.internet import reactor

    proxy = TransformProxy(*args.transform)

    # One generator per poem; each poem is printed as soon as it is ready.
    ds = []
    for host, port in args.servers:
        d = get_transformed_poem(reactor, proxy, host, port)
        d.addCallback(print_poem)
        ds.append(d)

    # When every poem is printed or has failed: note whether all came, and
    # stop. consumeErrors: each failure was reported already.
    outcome = {"all_fetched": False}

    def all_done(results):
        outcome["all_fetched"] = all(success for success, _ in results)
        reactor.stop()

    defer.DeferredList(ds, consumeErrors=True).addCallback(all_done)
    reactor.run()
    return 0 if outcome["all_fetched"] else 1


if __name__ == "__main__":
    sys.exit(main())
