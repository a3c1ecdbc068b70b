#!/usr/bin/env bash
# Regenerates the book's transcripts and real-run pictures from real runs of
# the real programs on loopback, so that the output the book shows is output
# the programs produced. Run from the repository root:
#
#     bash book/regenerate.sh
#
# It takes about a minute and a half: Part 2's experiment at its real
# settings, Part 3's countdown in real seconds, and the clients of Parts 4
# to 6 against servers at Part 2's settings.
# Ports are normalised to 10000, 10001, 10002 so that the text does not
# change from run to run for no reason; times are left as measured.
set -euo pipefail
cd "$(dirname "$0")/.."
# The transcripts show what a reader sees with no backtrace asked for; with
# RUST_BACKTRACE or RUST_LIB_BACKTRACE set, panic reports and failures grow
# backtraces, and the transcripts would depend on who ran this script.
unset RUST_BACKTRACE RUST_LIB_BACKTRACE

cargo build --quiet --bins
bin=target/debug
# ---------------------------------------------------------------------------
# Part 19: the cancel demos, client 4.0's --timeout against a slow and a fast
# server, and proxy 3.0 in front of a slow server with a client that leaves.
# A function, so that `bash book/regenerate.sh part19` can run it alone.
# Ports are normalised to 10000 (the proxy), 10001 (the slow server) and
# 10002 (the fast one); a client's own port to 52814.
# ---------------------------------------------------------------------------
part19() {
    local out19=book/src/transcripts/part19
    mkdir -p "$out19"
    local demo
    for demo in 1 2 3 4 5 6 7 8 12; do
        "$bin/defer-cancel-$demo" > "$out19/defer-cancel-$demo.txt" 2>&1
    done
    # The timer demos at a hundredth of their times: the same lines, in
    # the same order, without the ten-second wait.
    for demo in defer-cancel-9 defer-cancel-10 defer-cancel-11 defer-cancel-await; do
        "$bin/$demo" --scale 0.01 > "$out19/$demo.txt" 2>&1
    done

    local pids19=()
    # Starts "$@" (a server that ends its first line with its port) with its
    # stdout in $1.log and stderr in $1.err; sets port19 and pid19.
    start19() {
        local log=$1
        shift
        "$@" > "$log.log" 2> "$log.err" &
        pid19=$!
        pids19+=("$pid19")
        port19=""
        for _ in $(seq 100); do
            port19=$(head -n 1 "$log.log" | grep -oE '[0-9]+\.$' | tr -d .) && [ -n "$port19" ] && break
            sleep 0.1
        done
        [ -n "$port19" ] || { echo "$* did not start" >&2; return 1; }
    }
    stop19() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
    local scratch19
    scratch19=$(mktemp -d)
    trap 'kill "${pids19[@]}" 2>/dev/null || true; rm -rf "$scratch19"' RETURN

    # Client 4.0 with a timeout: the slow server takes 30 s for its poem.
    start19 "$scratch19/slow" "$bin/slowpoetry" --port 0 poetry/ecstasy.txt
    local slow=$port19 slow_pid=$pid19
    start19 "$scratch19/fast" "$bin/fastpoetry" --port 0 poetry/science.txt
    local fast=$port19 fast_pid=$pid19
    {
        echo "\$ cargo run --bin get-poetry-4 -- --timeout 2 10001 10002"
        "$bin/get-poetry-4" --timeout 2 "$slow" "$fast" 2>&1 || true
    } | sed "s/:$slow\b/:10001/g; s/:$fast\b/:10002/g" > "$scratch19/timeout.txt"
    { head -n 5 "$scratch19/timeout.txt"; echo "..."; } > "$out19/get-poetry-4-timeout.txt"
    stop19 "$slow_pid"
    stop19 "$fast_pid"

    # Proxy 3.0 in front of slowpoetry at its usual pace: a client that
    # leaves after a second (as with Ctrl-C; SIGTERM here, because a
    # background job of a script ignores SIGINT), one that stays, and one
    # that the cache serves.
    start19 "$scratch19/slow" "$bin/slowpoetry" --port 0 poetry/fascination.txt
    slow=$port19 slow_pid=$pid19
    start19 "$scratch19/proxy" "$bin/poetry-proxy-3" --port 0 "$slow"
    local proxy=$port19 proxy_pid=$pid19
    "$bin/get-poetry-4" "$proxy" > /dev/null 2>&1 &
    local leaver=$!
    sleep 1
    kill -TERM "$leaver"; wait "$leaver" 2>/dev/null || true
    for _ in $(seq 100); do
        grep -q 'Canceling' "$scratch19/proxy.log" && break
        sleep 0.1
    done
    "$bin/get-poetry-4" "$proxy" > "$scratch19/stayer.txt"
    "$bin/get-poetry-4" "$proxy" > /dev/null
    stop19 "$proxy_pid"
    stop19 "$slow_pid"
    local ports19="s/:$proxy\b/:10000/g; s/:$slow\b/:10001/g; s/port $slow\b/port 10001/g; s/127\.0\.0\.1:[0-9]*/127.0.0.1:52814/g"
    {
        echo "\$ cargo run --bin poetry-proxy-3 -- --port 10000 10001"
        sed "s/:$proxy\b/:10000/g; s/:$slow\b/:10001/g" "$scratch19/proxy.log"
        cat "$scratch19/proxy.err"
    } > "$out19/poetry-proxy-3.txt"
    # The slow server's side: every send to the first client (a few, of
    # the poem's 62), its error (stderr, shown in its place), and the
    # second client.
    {
        echo "\$ cargo run --bin slowpoetry -- --port 10001 poetry/fascination.txt"
        awk '/^Somebody/ { n++ } n < 2 { print } n == 2 { print; exit }' "$scratch19/slow.log" \
            | sed "$ports19" > "$scratch19/first.txt"
        head -n -1 "$scratch19/first.txt"
        sed "$ports19" "$scratch19/slow.err"
        tail -n 1 "$scratch19/first.txt"
        echo "..."
    } > "$out19/slowpoetry-cancelled.txt"
}
if [ "${1:-}" = part19 ]; then
    part19
    echo "Wrote the transcripts of Part 19 under book/src/transcripts/part19."
    exit 0
fi

out=book/src/transcripts/part02
images=book/src/images/part02
mkdir -p "$out" "$images"

# Rewrites the three ports the showcase printed to 10000, 10001, 10002.
normalise() {
    sed -e "s/:$1\b/:10000/g; s/port $1\b/port 10000/g" \
        -e "s/:$2\b/:10001/g; s/port $2\b/port 10001/g" \
        -e "s/:$3\b/:10002/g; s/port $3\b/port 10002/g"
}

# Part 2's experiment at its real settings; the showcase writes the timelines.
"$bin/showcase" --no-build --out-dir "$images" > "$out/showcase-full.txt"
read -r p1 p2 p3 < <(grep -o 'on port [0-9]*' "$out/showcase-full.txt" | awk '{printf "%s ", $3} END {print ""}')
normalise "$p1" "$p2" "$p3" < "$out/showcase-full.txt" > "$out/showcase.tmp"
mv "$out/showcase.tmp" "$out/showcase-full.txt"
for svg in "$images"/blocking.svg "$images"/select.svg; do
    normalise "$p1" "$p2" "$p3" < "$svg" > "$svg.tmp" && mv "$svg.tmp" "$svg"
done

# The blocking client's lines, as a reader would see them run alone.
awk '/^The blocking client, /{on=1; next} /^$/{on=0} on' "$out/showcase-full.txt" \
    | sed 's/^  //' > "$out/blocking.txt"
# The select client's lines, its start and its end.
awk '/^The select client, /{on=1; next} /^$/{on=0} on' "$out/showcase-full.txt" \
    | sed 's/^  //' > "$out/select-all.txt"
{ head -n 9 "$out/select-all.txt"; echo "..."; tail -n 8 "$out/select-all.txt"; } > "$out/select.txt"
rm "$out/select-all.txt"
# The showcase's own summary.
{ head -n 4 "$out/showcase-full.txt"; echo "..."; tail -n 4 "$out/showcase-full.txt"; } > "$out/showcase.txt"
rm "$out/showcase-full.txt"

# The server's side of one download, at Part 2's settings.
"$bin/slowpoetry" --port 0 poetry/science.txt > "$out/server-full.txt" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    port=$(grep -o 'on port [0-9]*' "$out/server-full.txt" | awk '{print $3}') && [ -n "$port" ] && break
    sleep 0.1
done
"$bin/get-poetry-blocking" "$port" > /dev/null
kill "$server"; wait "$server" 2>/dev/null || true
sed -e "s/port $port\b/port 10000/" -e 's/127\.0\.0\.1:[0-9]*/127.0.0.1:52814/' "$out/server-full.txt" \
    > "$out/server-all.txt"
{ head -n 5 "$out/server-all.txt"; echo "..."; tail -n 2 "$out/server-all.txt"; } > "$out/server.txt"
rm "$out/server-all.txt"
rm "$out/server-full.txt"

# ---------------------------------------------------------------------------
# Part 3: the reactor demos. The ones that run for ever are stopped after a
# second, which is all they need to print what they print.
# ---------------------------------------------------------------------------
out3=book/src/transcripts/part03
mkdir -p "$out3"
timeout 1 "$bin/hello" > "$out3/hello.txt" || true
timeout 1 "$bin/stack" > "$out3/stack.txt" || true
"$bin/countdown" > "$out3/countdown.txt"
"$bin/exception" > "$out3/exception.txt" 2>&1

# ---------------------------------------------------------------------------
# Part 4: client 1.0 and the broken client against three servers at Part 2's
# settings, each drawing its timeline on the same time scale.
# ---------------------------------------------------------------------------
out4=book/src/transcripts/part04
images4=book/src/images/part04
mkdir -p "$out4" "$images4"
servers=()
ports=()
# Starts a slow server for poem $1 at $2 bytes a send; its port goes to ports.
serve() {
    local log
    log=$(mktemp)
    "$bin/slowpoetry" --port 0 --num-bytes "$2" "poetry/$1" > "$log" &
    servers+=($!)
    for _ in $(seq 100); do
        port=$(grep -o 'on port [0-9]*' "$log" | awk '{print $3}') && [ -n "$port" ] && break
        sleep 0.1
    done
    ports+=("$port")
    rm "$log"
}
trap 'kill "${servers[@]}" 2>/dev/null || true' EXIT
serve ecstasy.txt 30
serve fascination.txt 10
serve science.txt 10
for client in get-poetry-1 get-poetry-1-broken; do
    "$bin/$client" "${ports[@]}" --timeline "$images4/$client.svg" --timeline-seconds 11 \
        > "$out4/$client-all.txt"
    normalise "${ports[@]}" < "$out4/$client-all.txt" > "$out4/$client-norm.txt"
    normalise "${ports[@]}" < "$images4/$client.svg" > "$images4/$client.tmp"
    mv "$images4/$client.tmp" "$images4/$client.svg"
done
{ head -n 8 "$out4/get-poetry-1-norm.txt"; echo "..."; tail -n 7 "$out4/get-poetry-1-norm.txt"; } \
    > "$out4/get-poetry-1.txt"
mv "$out4/get-poetry-1-broken-norm.txt" "$out4/get-poetry-1-broken.txt"
rm "$out4"/*-all.txt "$out4"/*-norm.txt

# ---------------------------------------------------------------------------
# Parts 5, 6 and 11, against the same three servers (and a fast one). A
# port where nothing listens is found by starting a server and stopping it.
# ---------------------------------------------------------------------------
out5=book/src/transcripts/part05
out6=book/src/transcripts/part06
out11=book/src/transcripts/part11
mkdir -p "$out5" "$out6" "$out11"
fast_log=$(mktemp)
"$bin/fastpoetry" --port 0 poetry/ecstasy.txt > "$fast_log" &
fast=$!
servers+=("$fast")
for _ in $(seq 100); do
    fast_port=$(grep -oE '[0-9]+\.$' "$fast_log" | tr -d .) && [ -n "$fast_port" ] && break
    sleep 0.1
done
sed -e "s/:$fast_port\b/:10010/" "$fast_log" > "$out11/fastpoetry.txt"
rm "$fast_log"
"$bin/fastpoetry" --port 0 poetry/science.txt > /dev/null &
doomed=$!
sleep 0.5
dead=$(ss -ltnp 2>/dev/null | grep "pid=$doomed," | grep -oE '127\.0\.0\.1:[0-9]+' | cut -d: -f2 || true)
kill "$doomed"; wait "$doomed" 2>/dev/null || true
dead=${dead:-10003}
dead_sed="s/:$dead\b/:10003/g"
# A client that could not fetch every poem exits with status 1: the runs
# with a dead port, or with the cummingsifier's gibberish, do on purpose.
expect_failure() { "$@" || true; }

expect_failure "$bin/get-poetry-2" "${ports[@]}" "$dead" | normalise "${ports[@]}" | sed "$dead_sed" > "$out5/all.txt"
{ head -n 7 "$out5/all.txt"; echo "..."; tail -n 5 "$out5/all.txt"; } > "$out5/get-poetry-2.txt"
rm "$out5/all.txt"
"$bin/get-poetry-2-stack" "${ports[0]}" > "$out5/get-poetry-2-stack.txt"
"$bin/get-poetry-2" "$fast_port" | sed -e "s/:$fast_port\b/:10010/" > "$out11/get-poetry-2.txt"

expect_failure "$bin/get-poetry-3-1" "$dead" 2>&1 | sed "$dead_sed" | sed "s/:10003:/:10004:/; s/:10003\b/:10004/" > "$out6/get-poetry-3-1.txt"
"$bin/failure-examples" > "$out6/failure-examples.txt"

out8=book/src/transcripts/part08
mkdir -p "$out8"
expect_failure "$bin/get-poetry-4" "${ports[@]}" "$dead" 2>&1 >/dev/null | sed "$dead_sed" > "$out8/get-poetry-4.txt"
"$bin/get-poetry-4-stack" "${ports[1]}" > "$out8/get-poetry-4-stack.txt"

# Part 10: the three outcomes of the cummingsifier, one seed each, against
# the server of science.txt.
out10=book/src/transcripts/part10
mkdir -p "$out10"
for client in get-poetry-5 get-poetry-5-1; do
    for seed in 2 3 0; do
        echo "\$ cargo run --bin $client -- --seed $seed 10002"
        expect_failure "$bin/$client" --seed "$seed" "${ports[2]}" 2>&1
    done > "$out10/$client.txt"
done

# ---------------------------------------------------------------------------
# Parts 7 to 9: the Deferred demos. They need no server; stderr is kept
# where the demo's point is on it. (The compiler's refusal to fire twice is
# included straight from tests/ui/fire_twice.stderr, which trybuild checks.)
# ---------------------------------------------------------------------------
out7=book/src/transcripts/part07
out8=book/src/transcripts/part08
out9=book/src/transcripts/part09
mkdir -p "$out7" "$out8" "$out9"
for demo in defer-1 defer-2 defer-3 defer-4 defer-6 defer-8 defer-9; do
    "$bin/$demo" > "$out7/$demo.txt" 2>&1
done
"$bin/defer-block" --pace 0 > "$out8/defer-block.txt"
"$bin/defer-unhandled" > "$out9/defer-unhandled.txt" 2>&1

# ---------------------------------------------------------------------------
# Part 14: defer-11, then the two proxies in front of fastpoetry, run as the
# chapter runs them: two clients through each proxy, the second served from
# the cache; proxy 2 once more after the upstream has stopped; and a fresh
# proxy 2 whose upstream is down at first, then up again on its port. The
# proxies run on free ports, normalised to 10000 (the proxy) and 10001 (the
# upstream).
# ---------------------------------------------------------------------------
out14=book/src/transcripts/part14
mkdir -p "$out14"
"$bin/defer-11" > "$out14/defer-11.txt"

# The port at the end of the first line of file $1, once it is there.
port_in() {
    local port=""
    for _ in $(seq 100); do
        port=$(head -n 1 "$1" | grep -oE '[0-9]+\.$' | tr -d .) && [ -n "$port" ] && break
        sleep 0.1
    done
    echo "$port"
}
# Starts fastpoetry with fascination.txt on port $1 (0: any); sets upstream
# and upstream_port.
start_upstream() {
    local log
    log=$(mktemp)
    "$bin/fastpoetry" --port "$1" poetry/fascination.txt > "$log" &
    upstream=$!
    servers+=("$upstream")
    upstream_port=$(port_in "$log")
    rm "$log"
}
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }
# Starts proxy $1 (1 or 2) in front of the upstream, its stdout and stderr
# in $proxy_log; sets proxy and proxy_port.
start_proxy() {
    proxy_log=$(mktemp)
    "$bin/poetry-proxy-$1" --port 0 "$upstream_port" > "$proxy_log" 2>&1 &
    proxy=$!
    servers+=("$proxy")
    proxy_port=$(port_in "$proxy_log")
}
# One client through the proxy; its poem goes to $1 (under the command
# the chapter types), cut to its first lines, which are all the chapter
# shows of a poem it has shown before.
client() {
    { echo "\$ cargo run --bin get-poetry-4 -- 10000"; "$bin/get-poetry-4" "$proxy_port"; } > "$1.all"
    if [ "$(wc -l < "$1.all")" -gt 5 ]; then
        { head -n 4 "$1.all"; echo "..."; } > "$1"
    else
        cp "$1.all" "$1"
    fi
    rm "$1.all"
}
# The proxy's lines, once it is stopped, under the command that started it.
proxy_lines() {
    stop "$proxy"
    echo "\$ cargo run --bin poetry-proxy-$1 -- --port 10000 10001"
    sed -e "s/:$upstream_port\b/:10001/g; s/:$proxy_port\b/:10000/g" "$proxy_log"
    rm "$proxy_log"
}
scratch=$(mktemp -d)

# Proxy 1: two clients, the first fetched, the second from the cache.
start_upstream 0
start_proxy 1
client "$out14/get-poetry-4-via-proxy.txt"
client "$scratch/again.txt"
proxy_lines 1 > "$out14/poetry-proxy-1.txt"

# Proxy 2: the same, and a third client once the upstream has stopped.
start_proxy 2
client "$scratch/first.txt"
client "$scratch/again.txt"
stop "$upstream"
client "$scratch/cached.txt"
proxy_lines 2 > "$out14/poetry-proxy-2.txt"

# A fresh proxy 2, with the upstream down, then up again on its port.
start_proxy 2
client "$out14/get-poetry-4-upstream-down.txt"
start_upstream "$upstream_port"
client "$scratch/up-again.txt"
proxy_lines 2 > "$out14/poetry-proxy-2-upstream-down.txt"
stop "$upstream"
rm -r "$scratch"

# ---------------------------------------------------------------------------
# Part 13: defer-10, and client 6.0 against the transform server and two
# fast poetry servers, as in the chapter's "Run it": the transform server,
# then the poems, become ports 10001, 10002 and 10003, and the port where
# nothing listens 10004. Stdout and stderr together, in the order printed.
# ---------------------------------------------------------------------------
out13=book/src/transcripts/part13
mkdir -p "$out13"
"$bin/defer-10" > "$out13/defer-10.txt"

# Starts a server that ends its first line with its port ("... on
# 127.0.0.1:PORT."): its pid goes to started_pid, that line to
# started_line, the port to started_port.
start_server() {
    local log
    log=$(mktemp)
    "$@" > "$log" &
    started_pid=$!
    servers+=("$started_pid")
    for _ in $(seq 100); do
        started_port=$(grep -oE '[0-9]+\.$' "$log" | tr -d .) && [ -n "$started_port" ] && break
        sleep 0.1
    done
    started_line=$(head -n 1 "$log")
    rm "$log"
}
start_server "$bin/transformedpoetry" --port 0
xform=$started_port xform_pid=$started_pid xform_line=$started_line
start_server "$bin/fastpoetry" --port 0 poetry/fascination.txt
fascination=$started_port fascination_line=$started_line
start_server "$bin/fastpoetry" --port 0 poetry/science.txt
science=$started_port science_line=$started_line
case " $xform $fascination $science " in
    *" $dead "*) echo "the dead port $dead came back to life; run again" >&2; exit 1 ;;
esac
ports13="s/:$xform\b/:10001/g; s/:$fascination\b/:10002/g; s/:$science\b/:10003/g; s/:$dead\b/:10004/g"
printf '%s\n' "$xform_line" "$fascination_line" "$science_line" | sed "$ports13" > "$out13/servers.txt"
# One run of client 6 on the ports $1, $2, $3: the command as the chapter
# gives it, then the output.
client6() {
    echo "\$ cargo run --bin get-poetry-6 -- $*" | sed "s/\b$xform\b/10001/; s/\b$fascination\b/10002/; s/\b$science\b/10003/; s/\b$dead\b/10004/"
    expect_failure "$bin/get-poetry-6" "$@" 2>&1 | sed "$ports13"
}
client6 "$xform" "$fascination" "$science" > "$out13/get-poetry-6.txt"
client6 "$xform" "$dead" "$science" > "$out13/get-poetry-6-one-down.txt"
kill "$xform_pid"; wait "$xform_pid" 2>/dev/null || true
client6 "$xform" "$fascination" "$science" > "$out13/get-poetry-6-no-transform.txt"

# ---------------------------------------------------------------------------
# Part 12: the transform server, asked by transform-test for the series'
# transform and for a few bad ones. Its port is normalised to 10001 and the
# clients' ports in its log to 52814; the log is read once it has stopped.
# ---------------------------------------------------------------------------
out12=book/src/transcripts/part12
mkdir -p "$out12"
xform_out=$(mktemp)
xform_err=$(mktemp)
"$bin/transformedpoetry" --port 0 > "$xform_out" 2> "$xform_err" &
xform=$!
servers+=("$xform")
for _ in $(seq 100); do
    xform_port=$(grep -oE '[0-9]+\.$' "$xform_out" | tr -d .) && [ -n "$xform_port" ] && break
    sleep 0.1
done
# The command as the chapter gives it ($1), then what it printed.
ask() {
    local shown=$1
    shift
    echo "\$ cargo run --bin transform-test -- $shown"
    expect_failure "$bin/transform-test" "$@" "$xform_port" 2>&1
}
{
    ask "10001"
    ask "--send '17:cummingsify.a.b.C,' 10001" --send '17:cummingsify.a.b.C,'
    ask "--send '20:unknown.HERE IS POEM,' 10001" --send '20:unknown.HERE IS POEM,'
    ask "--send 00027:cummingsify.X 10001" --send 00027:cummingsify.X
    ask "--send 5:hello --timeout 1 10001" --send 5:hello --timeout 1
} | sed "s/:$xform_port\b/:10001/g" > "$out12/transform-test.txt"
kill "$xform"; wait "$xform" 2>/dev/null || true
sed -e "s/:$xform_port\b/:10001/" "$xform_out" > "$out12/transformedpoetry.txt"
sed -e 's/127\.0\.0\.1:[0-9]*/127.0.0.1:52814/g' "$xform_err" > "$out12/transformedpoetry-log.txt"
rm "$xform_out" "$xform_err"

# ---------------------------------------------------------------------------
# Part 16: log-demo's log. Its times are left as they were.
# ---------------------------------------------------------------------------
out16=book/src/transcripts/part16
mkdir -p "$out16"
env -u RUST_LOG "$bin/log-demo" > "$out16/log-demo.txt"

# poetryd: the runner's help and the fast poetry service's, then one run
# in the foreground as the chapter's "Run it" does it: a free port
# (normalised to 10000), one client (its port normalised to 52814), then
# SIGTERM; the log is read once the server has ended. Then a daemon that
# cannot start, because that server holds its port: what its parent says.
# Times are left as they were.
"$bin/poetryd" --help > "$out16/poetryd-help.txt"
"$bin/poetryd" fastpoetry --help > "$out16/poetryd-fastpoetry-help.txt"
run16=$(mktemp -d)
env -u RUST_LOG "$bin/poetryd" --nodaemon --pidfile "$run16/foreground.pid" \
    fastpoetry --port 0 --poem poetry/ecstasy.txt > "$run16/log.txt" &
poetryd=$!
servers+=("$poetryd")
port16=""
for _ in $(seq 100); do
    port16=$(grep -oE 'starting on [0-9]+$' "$run16/log.txt" | awk '{print $3}') && [ -n "$port16" ] && break
    sleep 0.1
done
[ -n "$port16" ] || { echo "poetryd did not start" >&2; exit 1; }
"$bin/get-poetry-2" "$port16" > /dev/null
# The client's line is logged from inside the loop, so once it is there
# the server is watching for signals, and SIGTERM stops it cleanly.
for _ in $(seq 100); do
    grep -q 'sending' "$run16/log.txt" && break
    sleep 0.1
done
(
    cd "$run16"
    expect_failure env -u RUST_LOG "$OLDPWD/$bin/poetryd" \
        fastpoetry --port "$port16" --poem "$OLDPWD/poetry/ecstasy.txt" 2> failed.txt
)
kill -TERM "$poetryd"
for _ in $(seq 100); do
    kill -0 "$poetryd" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$poetryd" 2>/dev/null; then
    echo "poetryd did not stop on SIGTERM" >&2
    exit 1
fi
wait "$poetryd"
sed -e "s/starting on $port16\b/starting on 10000/; s/TCP Port $port16\b/TCP Port 10000/" \
    -e 's/127\.0\.0\.1:[0-9]*/127.0.0.1:52814/g' "$run16/log.txt" > "$out16/poetryd-nodaemon.txt"
sed -e "s/:$port16\b/:10000/g" "$run16/failed.txt" > "$out16/poetryd-cannot-start.txt"
rm -r "$run16"

# ---------------------------------------------------------------------------
# Part 17: the generators, the tasks on the reactor (their delays shrunk:
# the lines do not change with them), and client 7.0 as client 6.0 is run
# in Part 13: the transform server and two fast poetry servers on ports
# normalised to 10001, 10002 and 10003, and 10004 where nothing listens.
# Stdout and stderr together, in the order printed. This section needs
# only `bin` and `cargo build`, so it can be run on its own.
# ---------------------------------------------------------------------------
out17=book/src/transcripts/part17
mkdir -p "$out17"
for demo in gen-1 gen-3 gen-4 inline-callbacks-tb; do
    "$bin/$demo" > "$out17/$demo.txt" 2>&1
done
"$bin/inline-callbacks-1" --delay 0.5 > "$out17/inline-callbacks-1.txt" 2>&1
"$bin/inline-callbacks-2" --scale 0.1 > "$out17/inline-callbacks-2.txt" 2>&1

# The servers join the script's list, stopped when it ends (the list is
# made here when the section runs alone).
servers=(${servers[@]+"${servers[@]}"})
trap 'kill "${servers[@]}" 2>/dev/null || true' EXIT
# Starts a server that ends its first line with its port; the port goes
# to p17_port, the pid to p17_pid.
p17_start() {
    local log
    log=$(mktemp)
    "$@" > "$log" &
    p17_pid=$!
    servers+=("$p17_pid")
    p17_port=""
    for _ in $(seq 100); do
        p17_port=$(grep -oE '[0-9]+\.$' "$log" | tr -d .) && [ -n "$p17_port" ] && break
        sleep 0.1
    done
    rm "$log"
    [ -n "$p17_port" ] || { echo "$1 did not start" >&2; exit 1; }
}
p17_stop() { kill "$1"; wait "$1" 2>/dev/null || true; }
# A port where nothing listens: a server's, once it has stopped.
p17_start "$bin/fastpoetry" --port 0 poetry/science.txt
p17_dead=$p17_port
p17_stop "$p17_pid"
p17_start "$bin/transformedpoetry" --port 0
p17_xform=$p17_port p17_xform_pid=$p17_pid
p17_start "$bin/fastpoetry" --port 0 poetry/fascination.txt
p17_fascination=$p17_port p17_fascination_pid=$p17_pid
p17_start "$bin/fastpoetry" --port 0 poetry/science.txt
p17_science=$p17_port p17_science_pid=$p17_pid
case " $p17_xform $p17_fascination $p17_science " in
    *" $p17_dead "*) echo "the dead port $p17_dead came back to life; run again" >&2; exit 1 ;;
esac
p17_ports="s/\b$p17_xform\b/10001/g; s/\b$p17_fascination\b/10002/g; s/\b$p17_science\b/10003/g; s/\b$p17_dead\b/10004/g"
# One run of client 7: the command as the chapter gives it (its ports
# normalised below), then the output. A failed download exits with status
# 1, on purpose.
client7() {
    echo "\$ cargo run --bin get-poetry-7 -- $*"
    "$bin/get-poetry-7" "$@" 2>&1 || true
}
client7 "$p17_xform" "$p17_fascination" "$p17_science" | sed "$p17_ports" > "$out17/get-poetry-7.txt"
client7 "$p17_xform" "$p17_dead" "$p17_science" | sed "$p17_ports" > "$out17/get-poetry-7-one-down.txt"
p17_stop "$p17_xform_pid"
client7 "$p17_xform" "$p17_fascination" "$p17_science" | sed "$p17_ports" > "$out17/get-poetry-7-no-transform.txt"
p17_stop "$p17_fascination_pid"
p17_stop "$p17_science_pid"

# ---------------------------------------------------------------------------
# Part 18: the DeferredList demos, stdout and stderr together (the point of
# deferred-list-6 is on stderr); the options demo one scene at a time; and
# client 8.0 against the transform server and two fast poetry servers, as
# in the chapter's "Run it", with the ports of Part 13: 10001 the transform
# server, 10002 and 10003 the poems, 10004 where nothing listens. This
# section needs only the lines above the Part 2 experiment, so it can be
# run on its own.
# ---------------------------------------------------------------------------
out18=book/src/transcripts/part18
mkdir -p "$out18"
for demo in deferred-list-1 deferred-list-2 deferred-list-3 deferred-list-4 \
    deferred-list-5 deferred-list-6 deferred-list-7; do
    "$bin/$demo" > "$out18/$demo.txt" 2>&1
done
for scene in first-success none-succeeded first-failure no-failure empty cancel; do
    "$bin/deferred-list-options" "$scene" > "$out18/options-$scene.txt" 2>&1
done

# The servers started go into servers, which the trap set in Part 4 stops
# at the end (set again here, the same, for a run of this section alone).
trap 'kill "${servers[@]}" 2>/dev/null || true' EXIT
# Starts a server that ends its first line with its port ("... on
# 127.0.0.1:PORT."); sets pid18 and port18.
start18() {
    local log
    log=$(mktemp)
    "$@" > "$log" &
    pid18=$!
    servers+=("$pid18")
    port18=""
    for _ in $(seq 100); do
        port18=$(grep -oE '[0-9]+\.$' "$log" | tr -d .) && [ -n "$port18" ] && break
        sleep 0.1
    done
    rm "$log"
    [ -n "$port18" ] || { echo "$1 did not start" >&2; exit 1; }
}
stop18() { kill "$1"; wait "$1" 2>/dev/null || true; }
# A port where nothing listens: one a server had, once it has stopped.
start18 "$bin/fastpoetry" --port 0 poetry/science.txt
dead18=$port18
stop18 "$pid18"
start18 "$bin/transformedpoetry" --port 0
xform18=$port18 xform18_pid=$pid18
start18 "$bin/fastpoetry" --port 0 poetry/fascination.txt
fascination18=$port18 fascination18_pid=$pid18
start18 "$bin/fastpoetry" --port 0 poetry/science.txt
science18=$port18 science18_pid=$pid18
case " $xform18 $fascination18 $science18 " in
    *" $dead18 "*) echo "the dead port $dead18 came back to life; run again" >&2; exit 1 ;;
esac
ports18="s/\b$xform18\b/10001/g; s/\b$fascination18\b/10002/g; s/\b$science18\b/10003/g; s/\b$dead18\b/10004/g"
# One run of client 8 on the ports given: the command as the chapter gives
# it, then the output. A failed download makes it exit 1, on purpose.
client8() {
    echo "\$ cargo run --bin get-poetry-8 -- $*" | sed "$ports18"
    "$bin/get-poetry-8" "$@" 2>&1 | sed "s/:$xform18\b/:10001/g; s/:$dead18\b/:10004/g" || true
}
client8 "$xform18" "$fascination18" "$science18" > "$out18/get-poetry-8.txt"
client8 "$xform18" "$dead18" "$science18" > "$out18/get-poetry-8-one-down.txt"
stop18 "$xform18_pid"
client8 "$xform18" "$fascination18" "$science18" > "$out18/get-poetry-8-no-transform.txt"
stop18 "$fascination18_pid"
stop18 "$science18_pid"

part19

echo "Wrote the transcripts under book/src/transcripts and the timelines under book/src/images."
