#!/usr/bin/env bash
# Runs the project's benchmarks and keeps each one's report under
# book/src/benchmarks/ (NAME-report.txt), where the book's appendix includes
# it, so that the figures the book shows are the ones a real run printed.
# The benchmarks that also write a table for a chapter (clients, c10k) are
# asked to write it there too (NAME.txt). From the
# repository root:
#
#     bash book/benchmarks.sh                 # every benchmark, one by one
#     bash book/benchmarks.sh tasks c10k      # only those
#
# Each benchmark is also one command of its own, `cargo bench --bench NAME`;
# this script only runs them in turn and writes down what they print, with
# a first line that says when, on which commit and on what machine.
#
# Run it on a quiet machine: nothing else compiling or serving. The Python
# columns need Twisted (`pip install twisted`); without it the benchmarks
# skip them and say so. All of them together take about a quarter of an
# hour, most of it the servers' benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."

all=(reactor servers tasks threads clients c10k)
if [ $# -eq 0 ]; then
    chosen=("${all[@]}")
else
    chosen=("$@")
    for name in "${chosen[@]}"; do
        if [[ ! " ${all[*]} " == *" $name "* ]]; then
            echo "benchmarks.sh: no benchmark named '$name' (there are: ${all[*]})" >&2
            exit 2
        fi
    done
fi

# Build first, so that compiling is not measured and its messages stay out
# of the reports.
for name in "${chosen[@]}"; do
    cargo bench --bench "$name" --no-run --quiet
done

commit=$(git rev-parse --short HEAD 2> /dev/null || echo "unknown")
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
machine="$(nproc) CPUs (${cpu:-unknown model}), $(uname -sr)"
out=book/src/benchmarks
mkdir -p "$out"
for name in "${chosen[@]}"; do
    echo "== cargo bench --bench $name"
    report=$(mktemp)
    started=$SECONDS
    table=()
    case $name in
        clients | c10k) table=(-- --markdown "$out/$name.txt") ;;
    esac
    # A failed benchmark keeps the last good report and fails the script.
    if ! {
        echo "# $(date -u '+%Y-%m-%d'), commit $commit, $machine"
        echo "# cargo bench --bench $name ${table[*]}"
        cargo bench --quiet --bench "$name" "${table[@]}"
    } | tee "$report"; then
        rm -f "$report"
        echo "benchmarks.sh: $name failed; $out/$name-report.txt left as it was" >&2
        exit 1
    fi
    mv "$report" "$out/$name-report.txt"
    echo "== $name: $((SECONDS - started)) s, report in $out/$name-report.txt"
done
