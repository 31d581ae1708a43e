#!/usr/bin/env bash
# One command from a fresh Debian machine to a running berthd: set-up, build, start.
# Extra arguments go to berthd (default socket unix:///var/run/docker.sock).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run build --silent
# Run through its shebang, which carries berthd's Node flags (as an installed berthd runs).
exec dist/daemon/main.js "$@"
