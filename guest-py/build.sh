#!/usr/bin/env bash
# Build the Python guests into components with componentize-py.
#
#   guest-py/build.sh [OUT_DIR]       (default: $CARGO_TARGET_DIR or target/, then guest-py/)
#
# componentize-py comes from PyPI, pinned below, in a virtual environment of
# its own (guest-py/.venv, or $SOCKLAB_PY_VENV); it is installed on the first
# run and reused after. Each guest is one world of wit/ and one directory
# here, plus the shared helpers in common/. The components are written to
# OUT_DIR as py-tcp-client.wasm and py-udp-echo-server.wasm, the names
# `socklab --guest-dir OUT_DIR` finds them by.
set -euo pipefail

# The version these guests were written and tested with. componentize-py
# embeds its own CPython (3.14 for 0.25), so the venv's Python only runs pip.
COMPONENTIZE_PY_VERSION=0.25.1

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
out="${1:-${CARGO_TARGET_DIR:-$root/target}/guest-py}"
venv="${SOCKLAB_PY_VENV:-$here/.venv}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
# Whatever happens below, no component from an earlier build is left for
# the tests to pick up.
rm -f "$out/py-tcp-client.wasm" "$out/py-udp-echo-server.wasm"

tool="$venv/bin/componentize-py"
if [[ "$("$tool" --version 2>/dev/null)" != "componentize-py $COMPONENTIZE_PY_VERSION" ]]; then
    echo "installing componentize-py $COMPONENTIZE_PY_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "componentize-py==$COMPONENTIZE_PY_VERSION"
fi
"$tool" --version

# build WORLD SOURCE_DIR OUTPUT_NAME: one guest. The app module is `app` in
# SOURCE_DIR; the component goes to a temporary name first, so a failed
# build never leaves a stale or half-written component behind.
build() {
    local world=$1 dir=$2 name=$3
    echo "building $out/$name.wasm ($world, from guest-py/$dir/app.py)"
    (cd "$here" && "$tool" -d "$root/wit" -w "$world" \
        componentize -p common -p "$dir" app -o "$out/.$name.wasm.tmp")
    mv "$out/.$name.wasm.tmp" "$out/$name.wasm"
}

build socklab:lab/tcp-client tcp_client py-tcp-client
build socklab:lab/udp-server udp_server py-udp-echo-server
ls -l "$out"/*.wasm
