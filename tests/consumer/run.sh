#!/usr/bin/env bash
# Installs nslab from BUILD_DIR into a scratch prefix, then configures, builds
# and tests examples/consumer against it with find_package(nslab).
set -euo pipefail
build=$1 source=$2
work=$(mktemp -d /tmp/nslab-consumer-XXXXXX)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$source/examples/consumer" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" -j2 >/dev/null
cd "$work/build"
ctest --output-on-failure
