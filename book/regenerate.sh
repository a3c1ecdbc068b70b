#!/usr/bin/env bash
# Regenerates the book's transcripts and real-run pictures from real runs of
# the real programs on loopback, so that the output the book shows is output
# the programs produced. From the repository root:
#
#     bash book/regenerate.sh                 # every part, in book order
#     bash book/regenerate.sh part17 part19   # only those parts
#
# The parts are part02 to part14 and part16 to part22: one function each,
# below the shared helpers. A part starts the servers it needs, on free
# ports, and stops them; nothing it does depends on another part. Ports are
# normalised to the ones each chapter's "Run it" uses (10000, 10001, ...;
# a client's own port to 52814), so that the text does not change from run
# to run for no reason; times are left as measured.
#
# All of it takes about two and a half minutes once the programs are built
# (2 min 25 s, measured), almost all of it spent waiting in real time, as
# the chapters' runs do: Part 2's experiment at its real settings (40 s),
# Part 10's six downloads from a slow server (40 s), the clients of Parts
# 4, 5 and 8 against slow servers at Part 2's settings (20, 10 and 15 s),
# Part 19's slow server (10 s) and Part 3's countdown (7 s). Parts 20 and
# 21, added since, take 16 s and 27 s more (their clients at Part 2's pace,
# twice and four times). Every other part takes a second or two. The script prints each part's time as it goes.
set -euo pipefail
cd "$(dirname "$0")/.."
# The transcripts show what a reader sees with no backtrace asked for; with
# RUST_BACKTRACE or RUST_LIB_BACKTRACE set, panic reports and failures grow
# backtraces, and the transcripts would depend on who ran this script.
unset RUST_BACKTRACE RUST_LIB_BACKTRACE

bin=target/debug

# ---------------------------------------------------------------------------
# Shared helpers.
# ---------------------------------------------------------------------------

# Scratch files: a server's output, a run cut before it is written. Made
# once the arguments are checked; removed at the end.
scratch=""
# The pids of the servers (and background clients) this script started and
# has not stopped yet. Processes are stopped by pid only: other people's
# servers may run on this machine, under the same names.
declare -A running=()

track() { running[$1]=1; }
untrack() { unset "running[$1]"; }

# stop PID: stops a process this script started (with SIGTERM) and waits
# for it to end.
stop() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    untrack "$1"
}

# Stops every process still running that this script started.
stop_all() {
    local pid
    for pid in "${!running[@]}"; do
        stop "$pid"
    done
}

# The one trap: whatever way the script ends (done, failed, or Ctrl-C),
# every server it started is stopped and the scratch files are removed.
finish() {
    stop_all
    if [ -n "$scratch" ]; then rm -rf "$scratch"; fi
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for FILE REGEX: waits, up to ten seconds, for a line of FILE that
# matches the extended REGEX; fails if none comes.
wait_for() {
    for _ in $(seq 100); do
        grep -qE -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "regenerate.sh: nothing matching '$2' in $1 after ten seconds" >&2
    return 1
}

# serve [--merged] NAME COMMAND...: starts COMMAND, a server that ends its
# first line with its port ("... on 127.0.0.1:PORT.", or slowpoetry's
# "... on port PORT."), in the background, with its stdout in
# $scratch/NAME.out and its stderr in $scratch/NAME.err (with --merged, in
# NAME.out too, in the order printed). Waits for the port, then sets port
# and pid.
serve() {
    local merged=""
    if [ "$1" = --merged ]; then
        merged=yes
        shift
    fi
    local out=$scratch/$1.out err=$scratch/$1.err
    shift
    # Emptied first, so that a file left by an earlier server of the same
    # name cannot be read for this one's.
    : > "$out"
    : > "$err"
    if [ -n "$merged" ]; then
        "$@" > "$out" 2>&1 &
    else
        "$@" > "$out" 2> "$err" &
    fi
    pid=$!
    track "$pid"
    port=""
    for _ in $(seq 100); do
        port=$(head -n 1 "$out" | grep -oE '[0-9]+\.$' | tr -d .) && [ -n "$port" ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "regenerate.sh: $* did not print its port; what it printed:" >&2
    cat "$out" "$err" >&2
    return 1
}

# dead_port: sets dead to a port where nothing listens: one a server had,
# once it has stopped. A part calls it once its own servers are running:
# they hold their ports, so the dead one is none of theirs.
dead_port() {
    serve dead "$bin/fastpoetry" --port 0 poetry/science.txt
    dead=$port
    stop "$pid"
}

# slow_servers: starts the three slow servers of Part 2's experiment
# (ecstasy.txt at 30 bytes a send, fascination.txt and science.txt at 10,
# a pause of 0.1 s after each send). Sets slow to their ports, in that
# order, and slow_ports to the rules that write them 10000, 10001 and
# 10002, as the chapters do.
slow_servers() {
    serve slow-ecstasy "$bin/slowpoetry" --port 0 --num-bytes 30 poetry/ecstasy.txt
    slow=("$port")
    serve slow-fascination "$bin/slowpoetry" --port 0 --num-bytes 10 poetry/fascination.txt
    slow+=("$port")
    serve slow-science "$bin/slowpoetry" --port 0 --num-bytes 10 poetry/science.txt
    slow+=("$port")
    slow_ports=("${slow[0]}=10000" "${slow[1]}=10001" "${slow[2]}=10002")
}

# normalise PORT=SHOWN...: copies stdin to stdout with each PORT, wherever
# it stands as a whole number (":PORT", "port PORT", a command's argument),
# written SHOWN.
normalise() {
    local rules="" rule
    for rule in "$@"; do
        rules+="s/\\b${rule%%=*}\\b/${rule#*=}/g;"
    done
    sed -e "$rules"
}

# clients: copies stdin to stdout with every address 127.0.0.1:PORT
# written 127.0.0.1:52814: in a server's log, the ports its clients
# happened to have.
clients() { sed -e 's/127\.0\.0\.1:[0-9]*/127.0.0.1:52814/g'; }

# shown PROGRAM ARG...: the command as a reader types it, then what PROGRAM
# printed, stdout and stderr together in the order printed. A failure is
# expected: a client that could not fetch every poem exits with status 1,
# on purpose. The caller normalises the ports, in the command too.
shown() {
    local program=$1
    shift
    echo "\$ cargo run --bin $program -- $*"
    "$bin/$program" "$@" 2>&1 || true
}

# expect_failure COMMAND...: runs COMMAND, which may fail on purpose.
expect_failure() { "$@" || true; }

# transform_client_runs CLIENT OUT: the runs of clients 6, 7 and 8, as
# their chapters' "Run it" makes them: the transform server (10001), two
# fast poetry servers (10002, 10003) and 10004 where nothing listens.
# CLIENT runs with all up (OUT/CLIENT.txt), with 10004 for the first poem
# (OUT/CLIENT-one-down.txt), then with the transform server stopped
# (OUT/CLIENT-no-transform.txt). The servers' first lines, normalised, go
# to $scratch/transform-servers.txt.
transform_client_runs() {
    local client=$1 out=$2
    serve xform "$bin/transformedpoetry" --port 0
    local xform=$port xform_pid=$pid
    serve fascination "$bin/fastpoetry" --port 0 poetry/fascination.txt
    local fascination=$port
    serve science "$bin/fastpoetry" --port 0 poetry/science.txt
    local science=$port
    dead_port
    local ports=("$xform=10001" "$fascination=10002" "$science=10003" "$dead=10004")
    head -q -n 1 "$scratch"/{xform,fascination,science}.out | normalise "${ports[@]}" \
        > "$scratch/transform-servers.txt"
    shown "$client" "$xform" "$fascination" "$science" | normalise "${ports[@]}" > "$out/$client.txt"
    shown "$client" "$xform" "$dead" "$science" | normalise "${ports[@]}" > "$out/$client-one-down.txt"
    stop "$xform_pid"
    shown "$client" "$xform" "$fascination" "$science" | normalise "${ports[@]}" \
        > "$out/$client-no-transform.txt"
}

# ---------------------------------------------------------------------------
# Part 2: the experiment at its real settings (the showcase writes the
# timelines), and the server's side of one download. The showcase's three
# servers become 10000, 10001 and 10002.
# ---------------------------------------------------------------------------
part02() {
    local out=book/src/transcripts/part02 images=book/src/images/part02
    mkdir -p "$out" "$images"
    "$bin/showcase" --no-build --out-dir "$images" > "$scratch/showcase-raw.txt"
    local p1 p2 p3
    read -r p1 p2 p3 < <(grep -o 'on port [0-9]*' "$scratch/showcase-raw.txt" \
        | awk '{printf "%s ", $3} END {print ""}')
    local ports=("$p1=10000" "$p2=10001" "$p3=10002")
    local full=$scratch/showcase.txt
    normalise "${ports[@]}" < "$scratch/showcase-raw.txt" > "$full"
    local svg
    for svg in "$images"/blocking.svg "$images"/select.svg; do
        normalise "${ports[@]}" < "$svg" > "$svg.tmp"
        mv "$svg.tmp" "$svg"
    done

    # The blocking client's lines, as a reader would see them run alone.
    awk '/^The blocking client, /{on=1; next} /^$/{on=0} on' "$full" \
        | sed 's/^  //' > "$out/blocking.txt"
    # The select client's lines, its start and its end.
    awk '/^The select client, /{on=1; next} /^$/{on=0} on' "$full" \
        | sed 's/^  //' > "$scratch/select.txt"
    { head -n 9 "$scratch/select.txt"; echo "..."; tail -n 8 "$scratch/select.txt"; } > "$out/select.txt"
    # The showcase's own summary.
    { head -n 4 "$full"; echo "..."; tail -n 4 "$full"; } > "$out/showcase.txt"

    # The server's side of one download, at Part 2's settings.
    serve server "$bin/slowpoetry" --port 0 poetry/science.txt
    "$bin/get-poetry-blocking" "$port" > /dev/null
    stop "$pid"
    normalise "$port=10000" < "$scratch/server.out" | clients > "$scratch/server.txt"
    { head -n 5 "$scratch/server.txt"; echo "..."; tail -n 2 "$scratch/server.txt"; } > "$out/server.txt"
}

# ---------------------------------------------------------------------------
# Part 3: the reactor demos. The ones that run for ever are stopped after a
# second, which is all they need to print what they print.
# ---------------------------------------------------------------------------
part03() {
    local out=book/src/transcripts/part03
    mkdir -p "$out"
    timeout 1 "$bin/hello" > "$out/hello.txt" || true
    timeout 1 "$bin/stack" > "$out/stack.txt" || true
    "$bin/countdown" > "$out/countdown.txt"
    "$bin/exception" > "$out/exception.txt" 2>&1
}

# ---------------------------------------------------------------------------
# Part 4: client 1.0 and the broken client against the three slow servers,
# each drawing its timeline on the same time scale.
# ---------------------------------------------------------------------------
part04() {
    local out=book/src/transcripts/part04 images=book/src/images/part04
    mkdir -p "$out" "$images"
    slow_servers
    local client
    for client in get-poetry-1 get-poetry-1-broken; do
        "$bin/$client" "${slow[@]}" --timeline "$images/$client.svg" --timeline-seconds 11 \
            | normalise "${slow_ports[@]}" > "$scratch/$client.txt"
        normalise "${slow_ports[@]}" < "$images/$client.svg" > "$images/$client.tmp"
        mv "$images/$client.tmp" "$images/$client.svg"
    done
    { head -n 8 "$scratch/get-poetry-1.txt"; echo "..."; tail -n 7 "$scratch/get-poetry-1.txt"; } \
        > "$out/get-poetry-1.txt"
    cp "$scratch/get-poetry-1-broken.txt" "$out/get-poetry-1-broken.txt"
}

# ---------------------------------------------------------------------------
# Part 5: client 2.0 against the three slow servers and 10003, where
# nothing listens; the stack of its protocol.
# ---------------------------------------------------------------------------
part05() {
    local out=book/src/transcripts/part05
    mkdir -p "$out"
    slow_servers
    dead_port
    expect_failure "$bin/get-poetry-2" "${slow[@]}" "$dead" \
        | normalise "${slow_ports[@]}" "$dead=10003" > "$scratch/get-poetry-2.txt"
    { head -n 7 "$scratch/get-poetry-2.txt"; echo "..."; tail -n 5 "$scratch/get-poetry-2.txt"; } \
        > "$out/get-poetry-2.txt"
    "$bin/get-poetry-2-stack" "${slow[0]}" > "$out/get-poetry-2-stack.txt"
}

# ---------------------------------------------------------------------------
# Part 6: client 3.1 on 10004, where nothing listens (its errback), and
# the Failure examples.
# ---------------------------------------------------------------------------
part06() {
    local out=book/src/transcripts/part06
    mkdir -p "$out"
    dead_port
    expect_failure "$bin/get-poetry-3-1" "$dead" 2>&1 | normalise "$dead=10004" > "$out/get-poetry-3-1.txt"
    "$bin/failure-examples" > "$out/failure-examples.txt"
}

# ---------------------------------------------------------------------------
# Part 7: the Deferred demos. They need no server; stderr is kept where the
# demo's point is on it. (The compiler's refusal to fire twice is included
# straight from tests/ui/fire_twice.stderr, which trybuild checks.)
# ---------------------------------------------------------------------------
part07() {
    local out=book/src/transcripts/part07
    mkdir -p "$out"
    local demo
    for demo in defer-1 defer-2 defer-3 defer-4 defer-6 defer-8 defer-9; do
        "$bin/$demo" > "$out/$demo.txt" 2>&1
    done
}

# ---------------------------------------------------------------------------
# Part 8: defer-block; client 4.0's failure (its stderr only) against the
# three slow servers and 10003, where nothing listens; the stack of its
# callback.
# ---------------------------------------------------------------------------
part08() {
    local out=book/src/transcripts/part08
    mkdir -p "$out"
    "$bin/defer-block" --pace 0 > "$out/defer-block.txt"
    slow_servers
    dead_port
    expect_failure "$bin/get-poetry-4" "${slow[@]}" "$dead" 2>&1 > /dev/null \
        | normalise "${slow_ports[@]}" "$dead=10003" > "$out/get-poetry-4.txt"
    "$bin/get-poetry-4-stack" "${slow[1]}" > "$out/get-poetry-4-stack.txt"
}

# ---------------------------------------------------------------------------
# Part 9: an unhandled failure, reported when its Deferred is dropped.
# ---------------------------------------------------------------------------
part09() {
    local out=book/src/transcripts/part09
    mkdir -p "$out"
    "$bin/defer-unhandled" > "$out/defer-unhandled.txt" 2>&1
}

# ---------------------------------------------------------------------------
# Part 10: the three outcomes of the cummingsifier, one seed each, against
# a slow server of science.txt at Part 2's settings (10002).
# ---------------------------------------------------------------------------
part10() {
    local out=book/src/transcripts/part10
    mkdir -p "$out"
    serve slow-science "$bin/slowpoetry" --port 0 --num-bytes 10 poetry/science.txt
    local science=$port client seed
    for client in get-poetry-5 get-poetry-5-1; do
        for seed in 2 3 0; do
            shown "$client" --seed "$seed" "$science"
        done | normalise "$science=10002" > "$out/$client.txt"
    done
}

# ---------------------------------------------------------------------------
# Part 11: fastpoetry's first line, and client 2.0 against it (10010).
# ---------------------------------------------------------------------------
part11() {
    local out=book/src/transcripts/part11
    mkdir -p "$out"
    serve fast "$bin/fastpoetry" --port 0 poetry/ecstasy.txt
    local fast=$port
    # What it has printed before any client comes.
    normalise "$fast=10010" < "$scratch/fast.out" > "$out/fastpoetry.txt"
    "$bin/get-poetry-2" "$fast" | normalise "$fast=10010" > "$out/get-poetry-2.txt"
}

# ---------------------------------------------------------------------------
# Part 12: the transform server (10001), asked by transform-test for the
# series' transform and for a few bad ones; its log (stderr) is read once
# it has stopped.
# ---------------------------------------------------------------------------
part12() {
    local out=book/src/transcripts/part12
    mkdir -p "$out"
    serve xform "$bin/transformedpoetry" --port 0
    local xform=$port xform_pid=$pid
    # The command as the chapter gives it ($1), then what it printed.
    ask() {
        local typed=$1
        shift
        echo "\$ cargo run --bin transform-test -- $typed"
        expect_failure "$bin/transform-test" "$@" "$xform" 2>&1
    }
    {
        ask "10001"
        ask "--send '17:cummingsify.a.b.C,' 10001" --send '17:cummingsify.a.b.C,'
        ask "--send '20:unknown.HERE IS POEM,' 10001" --send '20:unknown.HERE IS POEM,'
        ask "--send 00027:cummingsify.X 10001" --send 00027:cummingsify.X
        ask "--send 5:hello --timeout 1 10001" --send 5:hello --timeout 1
    } | normalise "$xform=10001" > "$out/transform-test.txt"
    stop "$xform_pid"
    normalise "$xform=10001" < "$scratch/xform.out" > "$out/transformedpoetry.txt"
    clients < "$scratch/xform.err" > "$out/transformedpoetry-log.txt"
}

# ---------------------------------------------------------------------------
# Part 13: defer-10, and client 6.0 as in the chapter's "Run it": the
# transform server (10001), two fast poetry servers (10002, 10003), and
# 10004 where nothing listens; then with the transform server stopped.
# ---------------------------------------------------------------------------
part13() {
    local out=book/src/transcripts/part13
    mkdir -p "$out"
    "$bin/defer-10" > "$out/defer-10.txt"
    transform_client_runs get-poetry-6 "$out"
    cp "$scratch/transform-servers.txt" "$out/servers.txt"
}

# ---------------------------------------------------------------------------
# Part 14: defer-11, then the two proxies (10000) in front of fastpoetry
# (10001), run as the chapter runs them: two clients through each proxy,
# the second served from the cache; proxy 2 once more after the upstream
# has stopped; and a fresh proxy 2 whose upstream is down at first, then
# up again on its port.
# ---------------------------------------------------------------------------
part14() {
    local out=book/src/transcripts/part14
    mkdir -p "$out"
    "$bin/defer-11" > "$out/defer-11.txt"

    local upstream upstream_pid proxy proxy_pid
    # Starts fastpoetry with fascination.txt on port $1 (0: any).
    start_upstream() {
        serve upstream "$bin/fastpoetry" --port "$1" poetry/fascination.txt
        upstream=$port upstream_pid=$pid
    }
    # Starts proxy $1 (1 or 2) in front of the upstream.
    start_proxy() {
        serve --merged proxy "$bin/poetry-proxy-$1" --port 0 "$upstream"
        proxy=$port proxy_pid=$pid
    }
    # One client through the proxy; its poem goes to $1 (under the command
    # the chapter types), cut to its first lines, which are all the chapter
    # shows of a poem it has shown before.
    client() {
        { echo "\$ cargo run --bin get-poetry-4 -- 10000"; "$bin/get-poetry-4" "$proxy"; } > "$scratch/client.txt"
        if [ "$(wc -l < "$scratch/client.txt")" -gt 5 ]; then
            { head -n 4 "$scratch/client.txt"; echo "..."; } > "$1"
        else
            cp "$scratch/client.txt" "$1"
        fi
    }
    # The proxy's lines, once it is stopped, under the command that started it.
    proxy_lines() {
        stop "$proxy_pid"
        echo "\$ cargo run --bin poetry-proxy-$1 -- --port 10000 10001"
        normalise "$upstream=10001" "$proxy=10000" < "$scratch/proxy.out"
    }

    # Proxy 1: two clients, the first fetched, the second from the cache.
    start_upstream 0
    start_proxy 1
    client "$out/get-poetry-4-via-proxy.txt"
    client /dev/null
    proxy_lines 1 > "$out/poetry-proxy-1.txt"

    # Proxy 2: the same, and a third client once the upstream has stopped.
    start_proxy 2
    client /dev/null
    client /dev/null
    stop "$upstream_pid"
    client /dev/null
    proxy_lines 2 > "$out/poetry-proxy-2.txt"

    # A fresh proxy 2, with the upstream down, then up again on its port.
    start_proxy 2
    client "$out/get-poetry-4-upstream-down.txt"
    start_upstream "$upstream"
    client /dev/null
    proxy_lines 2 > "$out/poetry-proxy-2-upstream-down.txt"
}

# ---------------------------------------------------------------------------
# Part 16: log-demo's log; poetryd's help and the fast poetry service's;
# one run in the foreground as the chapter's "Run it" does it (10000, one
# client, then SIGTERM), its log read once it has ended; then what the
# parent of a daemon that cannot start says (that server holds its port).
# Times are left as they were.
# ---------------------------------------------------------------------------
part16() {
    local out=book/src/transcripts/part16
    mkdir -p "$out"
    env -u RUST_LOG "$bin/log-demo" > "$out/log-demo.txt"
    "$bin/poetryd" --help > "$out/poetryd-help.txt"
    "$bin/poetryd" fastpoetry --help > "$out/poetryd-fastpoetry-help.txt"

    local run=$scratch/part16 root=$PWD
    mkdir -p "$run"
    env -u RUST_LOG "$bin/poetryd" --nodaemon --pidfile "$run/foreground.pid" \
        fastpoetry --port 0 --poem poetry/ecstasy.txt > "$run/log.txt" &
    local poetryd=$!
    track "$poetryd"
    wait_for "$run/log.txt" 'starting on [0-9]+$'
    local port16
    port16=$(grep -oE 'starting on [0-9]+$' "$run/log.txt" | awk '{print $3}')
    "$bin/get-poetry-2" "$port16" > /dev/null
    # The client's line is logged from inside the loop, so once it is there
    # the server is watching for signals, and SIGTERM stops it cleanly.
    wait_for "$run/log.txt" 'sending'
    (
        cd "$run"
        expect_failure env -u RUST_LOG "$root/$bin/poetryd" \
            fastpoetry --port "$port16" --poem "$root/poetry/ecstasy.txt" 2> failed.txt
    )
    kill -TERM "$poetryd"
    for _ in $(seq 100); do
        kill -0 "$poetryd" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$poetryd" 2>/dev/null; then
        echo "regenerate.sh: poetryd did not stop on SIGTERM" >&2
        return 1
    fi
    # It must have ended with status 0 (set -e).
    wait "$poetryd"
    untrack "$poetryd"
    normalise "$port16=10000" < "$run/log.txt" | clients > "$out/poetryd-nodaemon.txt"
    normalise "$port16=10000" < "$run/failed.txt" > "$out/poetryd-cannot-start.txt"
}

# ---------------------------------------------------------------------------
# Part 17: the generators, the tasks on the reactor (their delays shrunk:
# the lines do not change with them), and client 7.0 as client 6.0 is run
# in Part 13: the transform server (10001), two fast poetry servers (10002,
# 10003), and 10004 where nothing listens. Stdout and stderr together, in
# the order printed.
# ---------------------------------------------------------------------------
part17() {
    local out=book/src/transcripts/part17
    mkdir -p "$out"
    local demo
    for demo in gen-1 gen-3 gen-4 inline-callbacks-tb; do
        "$bin/$demo" > "$out/$demo.txt" 2>&1
    done
    "$bin/inline-callbacks-1" --delay 0.5 > "$out/inline-callbacks-1.txt" 2>&1
    "$bin/inline-callbacks-2" --scale 0.1 > "$out/inline-callbacks-2.txt" 2>&1

    transform_client_runs get-poetry-7 "$out"
}

# ---------------------------------------------------------------------------
# Part 18: the DeferredList demos, stdout and stderr together (the point of
# deferred-list-6 is on stderr); the options demo one scene at a time; and
# client 8.0 with the servers and ports of Part 13.
# ---------------------------------------------------------------------------
part18() {
    local out=book/src/transcripts/part18
    mkdir -p "$out"
    local demo scene
    for demo in deferred-list-1 deferred-list-2 deferred-list-3 deferred-list-4 \
        deferred-list-5 deferred-list-6 deferred-list-7; do
        "$bin/$demo" > "$out/$demo.txt" 2>&1
    done
    for scene in first-success none-succeeded first-failure no-failure empty cancel; do
        "$bin/deferred-list-options" "$scene" > "$out/options-$scene.txt" 2>&1
    done

    transform_client_runs get-poetry-8 "$out"
}

# ---------------------------------------------------------------------------
# Part 19: the cancel demos, client 4.0's --timeout against a slow and a
# fast server, and proxy 3.0 in front of a slow server with a client that
# leaves. The proxy is 10000, the slow server 10001, the fast one 10002.
# ---------------------------------------------------------------------------
part19() {
    local out=book/src/transcripts/part19
    mkdir -p "$out"
    local demo
    for demo in 1 2 3 4 5 6 7 8 12; do
        "$bin/defer-cancel-$demo" > "$out/defer-cancel-$demo.txt" 2>&1
    done
    # The timer demos at a hundredth of their times: the same lines, in
    # the same order, without the ten-second wait.
    for demo in defer-cancel-9 defer-cancel-10 defer-cancel-11 defer-cancel-await; do
        "$bin/$demo" --scale 0.01 > "$out/$demo.txt" 2>&1
    done

    # Client 4.0 with a timeout: the slow server takes 30 s for its poem.
    serve slow "$bin/slowpoetry" --port 0 poetry/ecstasy.txt
    local slow_port=$port slow_pid=$pid
    serve fast "$bin/fastpoetry" --port 0 poetry/science.txt
    local fast_port=$port fast_pid=$pid
    shown get-poetry-4 --timeout 2 "$slow_port" "$fast_port" | normalise "$slow_port=10001" "$fast_port=10002" \
        > "$scratch/timeout.txt"
    { head -n 5 "$scratch/timeout.txt"; echo "..."; } > "$out/get-poetry-4-timeout.txt"
    stop "$slow_pid"
    stop "$fast_pid"

    # Proxy 3.0 in front of slowpoetry at its usual pace: a client that
    # leaves after a second (as with Ctrl-C; SIGTERM here, because a
    # background job of a script ignores SIGINT), one that stays, and one
    # that the cache serves.
    serve slow "$bin/slowpoetry" --port 0 poetry/fascination.txt
    slow_port=$port slow_pid=$pid
    serve proxy "$bin/poetry-proxy-3" --port 0 "$slow_port"
    local proxy=$port proxy_pid=$pid
    "$bin/get-poetry-4" "$proxy" > /dev/null 2>&1 &
    local leaver=$!
    track "$leaver"
    sleep 1
    stop "$leaver"
    wait_for "$scratch/proxy.out" 'Canceling'
    "$bin/get-poetry-4" "$proxy" > /dev/null
    "$bin/get-poetry-4" "$proxy" > /dev/null
    stop "$proxy_pid"
    stop "$slow_pid"
    local ports=("$proxy=10000" "$slow_port=10001")
    {
        echo "\$ cargo run --bin poetry-proxy-3 -- --port 10000 10001"
        cat "$scratch/proxy.out" "$scratch/proxy.err" | normalise "${ports[@]}"
    } > "$out/poetry-proxy-3.txt"
    # The slow server's side: every send to the first client (a few, of
    # the poem's 62), its error (stderr, shown in its place), and the
    # second client.
    awk '/^Somebody/ { n++ } n < 2 { print } n == 2 { print; exit }' "$scratch/slow.out" \
        | normalise "${ports[@]}" | clients > "$scratch/first.txt"
    {
        echo "\$ cargo run --bin slowpoetry -- --port 10001 poetry/fascination.txt"
        head -n -1 "$scratch/first.txt"
        normalise "${ports[@]}" < "$scratch/slow.err" | clients
        tail -n 1 "$scratch/first.txt"
        echo "..."
    } > "$out/slowpoetry-cancelled.txt"
}

# ---------------------------------------------------------------------------
# Part 20: the Erlang client in Rust against the three slow servers of
# Part 2 (10000, 10001, 10002), then against 10001 and 10005, where nothing
# listens. Each run: its first chunk lines, its last, and the start of the
# poems that follow them.
# ---------------------------------------------------------------------------
part20() {
    local out=book/src/transcripts/part20
    mkdir -p "$out"
    slow_servers
    dead_port
    local ports=("${slow_ports[@]}" "$dead=10005")
    shown get-poetry-actors "${slow[@]}" | normalise "${ports[@]}" > "$scratch/actors.txt"
    shown get-poetry-actors "${slow[1]}" "$dead" | normalise "${ports[@]}" > "$scratch/actors-down.txt"
    local run last
    for run in actors actors-down; do
        # The line number of the last chunk line: the poems start after it.
        last=$(grep -n '^Task [0-9]*: got ' "$scratch/$run.txt" | tail -n 1 | cut -d: -f1)
        {
            head -n 6 "$scratch/$run.txt"
            echo "..."
            sed -n "$((last - 2)),$((last + 4))p" "$scratch/$run.txt"
            echo "..."
        } > "$out/$run.txt"
    done
}

# ---------------------------------------------------------------------------
# Part 21: the lazy clients against the three slow servers of Part 2 at
# their real settings (10000, 10001, 10002), and with 10003, where nothing
# listens. The ordered client's lines are stamped with the time each
# reached us, to show what a transcript alone cannot: the first poem
# streams, the others come at once.
# ---------------------------------------------------------------------------

# part21_stamped: copies stdin to stdout, each line behind the seconds
# since it started, to a tenth ("  3.1 s | line"; a blank line gets no
# space after the bar).
part21_stamped() {
    local start=${EPOCHREALTIME/./} now tenths line
    while IFS= read -r line; do
        now=${EPOCHREALTIME/./}
        tenths=$(((now - start) / 100000))
        printf '%3d.%d s |%s\n' $((tenths / 10)) $((tenths % 10)) "${line:+ $line}"
    done
}

part21() {
    local out=book/src/transcripts/part21
    mkdir -p "$out"
    slow_servers
    dead_port
    local ports=("${slow_ports[@]}" "$dead=10003")
    local lines1 lines2
    lines1=$(wc -l < poetry/ecstasy.txt)
    lines2=$(wc -l < poetry/fascination.txt)

    # The first client: its start, the moment the first short poem is
    # printed whole, and its end.
    shown get-poetry-lazy "${slow[@]}" | normalise "${ports[@]}" > "$scratch/lazy.txt"
    local first_poem
    first_poem=$(grep -nm 1 -vE '^(\$|Task )' "$scratch/lazy.txt" | cut -d: -f1)
    {
        head -n 8 "$scratch/lazy.txt"
        echo "..."
        sed -n "$((first_poem - 3)),$((first_poem + 3))p" "$scratch/lazy.txt"
        echo "..."
        tail -n 3 "$scratch/lazy.txt"
    } > "$out/get-poetry-lazy.txt"
    shown get-poetry-lazy "${slow[0]}" "$dead" "${slow[2]}" | normalise "${ports[@]}" \
        > "$out/get-poetry-lazy-refused.txt"

    # The second client, stamped: the start of the first poem, its end and
    # the start of the second, and the end.
    {
        echo "\$ cargo run --bin get-poetry-lazy-ordered -- 10000 10001 10002"
        "$bin/get-poetry-lazy-ordered" "${slow[@]}" | part21_stamped
    } > "$scratch/ordered.txt"
    {
        head -n 5 "$scratch/ordered.txt"
        echo "..."
        # The command is line 1; poem 1 and its blank line end at lines1 + 2.
        sed -n "$((lines1 - 1)),$((lines1 + 5))p" "$scratch/ordered.txt"
        echo "..."
        tail -n 3 "$scratch/ordered.txt"
    } > "$out/get-poetry-lazy-ordered.txt"

    # Nothing on 10003: the first poem, the failure, the third poem.
    shown get-poetry-lazy-ordered "${slow[1]}" "$dead" "${slow[2]}" \
        | normalise "${ports[@]}" > "$scratch/ordered-refused.txt"
    {
        head -n 3 "$scratch/ordered-refused.txt"
        echo "..."
        sed -n "$((lines2 - 1)),$((lines2 + 5))p" "$scratch/ordered-refused.txt"
        echo "..."
    } > "$out/get-poetry-lazy-ordered-refused.txt"
}

# ---------------------------------------------------------------------------
# Part 22: two clients of the slow server, the second starting while the
# first is served: the blocking server (one after the other) and the
# reactor's (both at once). 7 sends of 100 bytes 0.1 s apart a poem. The
# server is 10000; its clients 52814 and 52815, in the order greeted.
# ---------------------------------------------------------------------------
part22() {
    local out=book/src/transcripts/part22
    mkdir -p "$out"
    local server
    for server in slowpoetry slowpoetry-reactor; do
        serve "$server" "$bin/$server" --port 0 --num-bytes 100 poetry/science.txt
        local server_pid=$pid server_port=$port
        "$bin/get-poetry-blocking" "$port" > /dev/null &
        local first=$!
        track "$first"
        sleep 0.25
        "$bin/get-poetry-blocking" "$port" > /dev/null
        wait "$first"
        untrack "$first"
        stop "$server_pid"
        local peers
        mapfile -t peers < <(grep -oE '^Somebody at 127\.0\.0\.1:[0-9]+' "$scratch/$server.out" | grep -oE '[0-9]+$')
        {
            echo "\$ cargo run --bin $server -- --port 10000 --num-bytes 100 poetry/science.txt"
            normalise "$server_port=10000" "${peers[0]}=52814" "${peers[1]}=52815" < "$scratch/$server.out"
        } > "$out/$server.txt"
    done
}

# ---------------------------------------------------------------------------
# Which parts to run: the names given, or every part in book order.
# ---------------------------------------------------------------------------
mapfile -t parts < <(compgen -A function | grep -E '^part[0-9]+$' | sort)
chosen=("$@")
if [ $# -eq 0 ]; then
    chosen=("${parts[@]}")
fi
for name in "${chosen[@]}"; do
    if ! printf '%s\n' "${parts[@]}" | grep -qxF -- "$name"; then
        echo "regenerate.sh: there is no part called '$name'; the parts are:" >&2
        echo "  ${parts[*]}" >&2
        exit 2
    fi
done

cargo build --quiet --bins
scratch=$(mktemp -d)
for name in "${chosen[@]}"; do
    started=$SECONDS
    "$name"
    stop_all
    echo "$name: $((SECONDS - started)) s"
done
echo "Wrote the transcripts and real-run pictures of ${chosen[*]} under book/src/transcripts and book/src/images."
