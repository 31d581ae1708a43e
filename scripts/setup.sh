#!/usr/bin/env bash
# Installs what Berth needs on a Debian 12 machine (idempotent): system packages and npm modules.
set -euo pipefail
cd "$(dirname "$0")/.."

# containerd/runc run the containers; protobuf-compiler + libprotobuf-dev generate the gRPC
# clients at build time; busybox-static feeds the test image; tini is `--init`; iptables and
# iproute2 are the network plumbing; xz-utils, bzip2 and zstd inflate compressed imports;
# procps gives `docker top` its ps; kmod gives the firewall set-up modprobe (br_netfilter);
# python3, make and g++ build the path-safety addon (native/safefs.c) with node-gyp.
packages=(containerd runc protobuf-compiler libprotobuf-dev busybox-static tini
          iptables iproute2 kmod xz-utils bzip2 zstd procps ca-certificates
          python3 make g++)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
