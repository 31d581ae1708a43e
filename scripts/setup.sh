#!/usr/bin/env bash
# Installs what Berth needs on a Debian 12 machine (idempotent): system packages and npm modules.
set -euo pipefail
cd "$(dirname "$0")/.."

# containerd/runc run the containers; protobuf-compiler + libprotobuf-dev generate the gRPC
# clients at build time; busybox-static feeds the test image; tini is `--init`; iptables and
# iproute2 are the network plumbing; xz-utils, bzip2 and zstd inflate compressed imports;
# procps gives `docker top` its ps; kmod gives the firewall set-up modprobe (br_netfilter);
# python3, make and g++ build the path-safety addon (native/safefs.c) with node-gyp.
# docker-registry (CNCF distribution 2.8), apache2-utils (htpasswd) and openssl: the registry
# tests start their own registries on 127.0.0.1, with htpasswd files and CAs and token-signing
# keys they make (test/integration/registry-kit.ts). gcc and libc6-dev (glibc's static libc.a):
# the testcontainers reaper test compiles its stand-in Ryuk (test/fixtures/ryuk/ryuk.c) with
# `gcc -static`, since the real image cannot be pulled here. docker-compose (Debian's 1.29, on
# docker-py) is the real compose client of test/integration/compose.test.ts and of the
# healthcheck test's `condition: service_healthy` project (test/integration/health.test.ts).
# prometheus: the metrics test has a real Prometheus server scrape berthd (and promtool lint it).
# chromium: the dashboard's browser test drives Debian's headless Chromium through puppeteer-core
# (test/integration/dashboard-browser.test.ts); puppeteer-core downloads no browser of its own.
# etcd-server, etcd-client: swarm mode keeps its cluster state in etcd; the swarm tests run their
# own three-member etcd cluster on loopback ports (docs/swarm.md).
packages=(containerd runc protobuf-compiler libprotobuf-dev busybox-static tini
          iptables iproute2 kmod xz-utils bzip2 zstd procps ca-certificates
          python3 make g++ docker-registry apache2-utils openssl
          gcc libc6-dev docker-compose prometheus chromium etcd-server etcd-client)
# Packages whose postinst starts a service the tests never use (a registry on :5000, Prometheus
# on :9090, etcd on :2379): the tests start their own, on loopback ports they pick.
# Each entry is package:service.
services=(docker-registry:docker-registry prometheus:prometheus etcd-server:etcd)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  # Keep those services from starting: a temporary policy-rc.d refusing them alone (invoke-rc.d
  # and deb-systemd-invoke honour it). An existing policy-rc.d is the administrator's and is
  # left as it is.
  new_services=()
  for p in "${missing[@]}"; do
    for entry in "${services[@]}"; do [[ $p == "${entry%%:*}" ]] && new_services+=("${entry#*:}"); done
  done
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if ((${#new_services[@]})) && [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nfor a in "$@"; do case "$a" in %s) exit 101;; esac; done\nexit 0\n' \
      "$(IFS='|'; echo "${new_services[*]}")" >"$policy"
    chmod 755 "$policy"
    own_policy=1
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  for svc in "${new_services[@]}"; do
    # Under systemd the unit was also enabled for the next boot: disable it (and stop it, should
    # a policy-rc.d of the administrator's have let it start).
    if [[ -d /run/systemd/system ]]; then
      systemctl disable --now "$svc.service" >/dev/null 2>&1 || true
    elif [[ -x /etc/init.d/$svc ]]; then
      /etc/init.d/"$svc" stop >/dev/null 2>&1 || true
    fi
  done
  ((own_policy)) && rm -f "$policy" && trap - EXIT
fi

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
