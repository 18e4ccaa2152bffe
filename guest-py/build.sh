#!/usr/bin/env bash
# Build the Python guests into components with componentize-py.
#
#   guest-py/build.sh [OUT_DIR]       (default: $CARGO_TARGET_DIR or target/, then guest-py/)
#
# componentize-py comes from PyPI, pinned below, in a virtual environment of
# its own (guest-py/.venv, or $SOCKLAB_PY_VENV); it is installed on the first
# run and reused after. Each guest is one world of wit/ and one directory
# here, plus the shared helpers in common/, as guests.toml declares them.
# The components are written to OUT_DIR as NAME.wasm (py-tcp-client.wasm,
# ...), where `socklab guests` finds them.
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
# The guests: one "NAME WORLD DIR" line each, from guests.toml.
guests="$(python3 -c 'import sys, tomllib
for g in tomllib.load(open(sys.argv[1], "rb"))["guest"]:
    print(g["name"], g["world"], g["dir"])' "$here/guests.toml")"
while read -r name _ _; do rm -f "$out/$name.wasm"; done <<< "$guests"

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

while read -r name world dir; do build "$world" "$dir" "$name"; done <<< "$guests"
ls -l "$out"/*.wasm
