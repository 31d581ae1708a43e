#!/usr/bin/env bash
# Builds the path-safety addon (native/safefs.c) against this machine's Node headers, offline, and
# puts it where runtime/safe-fs.ts loads it: dist/native/safefs.node.
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist/native/safefs.node
if [[ -f $out && $out -nt native/safefs.c && $out -nt native/binding.gyp ]]; then exit 0; fi
nodedir=${NODE_GYP_NODEDIR:-}
if [[ -z $nodedir ]]; then
  # Node's own headers (a distro node has them under /usr/include/node); never download any.
  for d in "$(dirname "$(dirname "$(command -v node)")")" /usr /usr/local; do
    if [[ -f $d/include/node/node_api.h ]]; then nodedir=$d; break; fi
  done
fi
[[ -n $nodedir ]] || { echo "build-native: Node headers (include/node/node_api.h) not found" >&2; exit 1; }
(cd native && ../node_modules/.bin/node-gyp rebuild --nodedir="$nodedir" --loglevel=warn)
mkdir -p dist/native
cp native/build/Release/safefs.node "$out"
