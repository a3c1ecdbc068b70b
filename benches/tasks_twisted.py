"""Part 17's benchmark, the Twisted column: what the same four operations
cost with Twisted's own tools.

`cargo bench --bench tasks` runs this script (when `python3 -c "import
twisted"` works; `pip install twisted` enables it) after measuring our
reactor and tokio, and reads the figures it prints, one `key=value` a
line, in nanoseconds per operation:

    python3 benches/tasks_twisted.py --count 200000 --rounds 3

1. spawn: call an `inlineCallbacks` function that returns at once; it
   gives back a Deferred that has already fired.
2. spawn_wait: call one that waits on a fresh Deferred, for `--count`
   of them, then fire all those Deferreds in one go.
3. pingpong: two `inlineCallbacks` functions hand a number back and forth
   over a fresh Deferred per hop.
4. yield: one `inlineCallbacks` function that gives the reactor a turn,
   `yield deferLater(reactor, 0, ...)`, `--count` times.

What differs from the Rust columns, so that the figures are read right:
a Deferred runs its callbacks at the moment it is fired, on the caller's
stack, so in 1 to 3 there is no scheduler at all: resuming the other
generator is a function call, where our reactor and tokio push the task
on a queue and poll it later. 4 has no exact twin: a generator cannot
wake itself, and the nearest thing in Twisted is a timed call of zero
seconds, which goes round the whole reactor loop (its timers, then an
`epoll_wait` that does not block). That is what tokio's `yield_now` does
too (it lets the driver look at the sockets); ours re-polls the task at
once, without a turn of the loop.

Python's cyclic garbage collector stays on, as in any Twisted program;
with 200,000 generators parked at once in 2, its passes over them are
most of that figure (run it with `gc.disable()` to see the difference).

Each figure is the best of `--rounds` rounds; every round checks its own
result (every task finished, every number came back) and the whole run is
bounded by `--count` and by the benchmark, which kills it after a limit.
"""

import argparse
import sys
import time

from twisted.internet import defer, reactor, task


def spawn(count):
    done = [0]

    @defer.inlineCallbacks
    def finishes_at_once():
        done[0] += 1
        return
        yield  # a generator, as inlineCallbacks needs; never reached

    started = time.perf_counter()
    for _ in range(count):
        finishes_at_once()
    took = time.perf_counter() - started
    check(done[0] == count, "spawn: %d of %d tasks finished" % (done[0], count))
    return took


def spawn_wait(count):
    done = [0]

    @defer.inlineCallbacks
    def waits_once(d):
        n = yield d
        done[0] += n

    started = time.perf_counter()
    ds = []
    for _ in range(count):
        d = defer.Deferred()
        ds.append(d)
        waits_once(d)
    # Every generator is parked on its Deferred; fire them all.
    for d in ds:
        d.callback(1)
    took = time.perf_counter() - started
    check(done[0] == count, "spawn_wait: %d of %d waits finished" % (done[0], count))
    return took


def ping_pong(hops):
    # Each side's mailbox: the Deferred it waits on, for the other to fire.
    mailboxes = {"a": None, "b": None}
    ends = []

    @defer.inlineCallbacks
    def side(mine, theirs, starts):
        n = 0
        if starts:
            d = mailboxes[mine] = defer.Deferred()
            n = yield d
        while n < hops:
            d = mailboxes[mine] = defer.Deferred()
            other, mailboxes[theirs] = mailboxes[theirs], None
            if other is None:
                raise RuntimeError("no mailbox")
            # Runs the other side at once, up to its next wait.
            other.callback(n + 1)
            n = yield d
        # Release the other side's last wait.
        other, mailboxes[theirs] = mailboxes[theirs], None
        if other is not None:
            other.callback(hops)
        ends.append(n)

    started = time.perf_counter()
    side("a", "b", True)
    side("b", "a", False)
    took = time.perf_counter() - started
    check(len(ends) == 2 and min(ends) >= hops, "pingpong: ended with %r" % (ends,))
    return took


@defer.inlineCallbacks
def yield_to_reactor(count):
    turns = [0]

    def turn():
        turns[0] += 1

    started = time.perf_counter()
    for _ in range(count):
        yield task.deferLater(reactor, 0, turn)
    took = time.perf_counter() - started
    check(turns[0] == count, "yield: %d of %d turns" % (turns[0], count))
    return took


def check(condition, complaint):
    if not condition:
        raise RuntimeError(complaint)


@defer.inlineCallbacks
def measure(args, outcome):
    count = args.count
    best = {}
    for _ in range(args.rounds):
        for key, run in (("spawn", spawn), ("spawn_wait", spawn_wait), ("pingpong", ping_pong)):
            took = run(count)
            best[key] = min(best.get(key, took), took)
        took = yield yield_to_reactor(count)
        best["yield"] = min(best.get("yield", took), took)
    for key in ("spawn", "spawn_wait", "pingpong", "yield"):
        outcome.append("%s_ns=%.1f" % (key, best[key] * 1e9 / count))


def main():
    parser = argparse.ArgumentParser(
        prog="tasks_twisted.py",
        description="The tasks benchmark's four operations on Twisted: "
        "prints nanoseconds per operation as key=value lines.",
    )
    parser.add_argument("--count", type=int, default=200000,
                        help="operations per measurement (default: 200000)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds; the best is kept (default: 3)")
    args = parser.parse_args()
    if not 1 <= args.count <= 10000000 or not 1 <= args.rounds <= 20:
        parser.error("--count takes 1 to 10000000, --rounds 1 to 20")

    outcome = []
    failure = []

    def run():
        d = measure(args, outcome)
        d.addErrback(lambda f: failure.append(f.getErrorMessage()))
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(run)
    reactor.run()
    if failure:
        sys.stderr.write("tasks_twisted.py: %s\n" % failure[0])
        return 1
    print("\n".join(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main())
