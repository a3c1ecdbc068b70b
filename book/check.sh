#!/usr/bin/env bash
# The book in a real browser: builds the book, then opens every page in
# headless Chromium twice, from the built files (file://) and under
# `mdbook serve`, and fails on a console error, an image that did not
# decode or a link that leads nowhere. Screenshots of three pages go to
# target/book-check/. The checker is book/check/main.rs (an example of
# the crate, so that clippy and fmt cover it); this script gets it what it
# needs: mdbook, and Debian's chromium when it is missing.
#
#     bash book/check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

seconds() { date +%s; }
start=$(seconds)

if ! command -v mdbook > /dev/null; then
    echo "== cargo install mdbook"
    cargo install mdbook --locked
fi

echo "== mdbook build book"
mdbook build book

if ! command -v chromium > /dev/null; then
    echo "== apt-get install chromium"
    install_start=$(seconds)
    export DEBIAN_FRONTEND=noninteractive
    # The package lists may be missing or stale on a fresh machine: the
    # install fails on either, so update first and once.
    apt-get update -q
    apt-get install -q -y --no-install-recommends chromium
    echo "chromium installed in $(($(seconds) - install_start)) s"
fi

echo "== cargo build --example book-check"
cargo build -q --example book-check

echo "== book-check"
check_start=$(seconds)
status=0
cargo run -q --example book-check -- \
    --book book \
    --chromium "$(command -v chromium)" \
    --mdbook "$(command -v mdbook)" \
    --screenshots target/book-check || status=$?
echo "book-check took $(($(seconds) - check_start)) s; book/check.sh took $(($(seconds) - start)) s in all"
exit "$status"
