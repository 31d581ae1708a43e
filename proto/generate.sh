#!/usr/bin/env bash
# Generates typed gRPC clients for containerd 1.6 into runtime/gen (ignored by git).
# The .proto files are containerd's text: they come from Debian's packages at build time,
# extracted with dpkg-deb (installing the -dev package would pull in ~110 packages, systemd among them).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cache="$root/proto/.cache"
out="$root/runtime/gen"
stamp="$out/.stamp"
pkgs=(golang-github-containerd-containerd-dev golang-github-gogo-protobuf-dev
      golang-github-gogo-googleapis-dev golang-github-containerd-cgroups-dev)
recipe="$(sha256sum "$0" | cut -c1-16)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$recipe" ]]; then exit 0; fi

command -v protoc >/dev/null || { echo "protoc missing: apt-get install protobuf-compiler" >&2; exit 1; }
[[ -d /usr/include/google/protobuf ]] || { echo "protobuf headers missing: apt-get install libprotobuf-dev" >&2; exit 1; }

src="$cache/root/usr/share/gocode/src"
if [[ ! -d "$src/github.com/containerd/containerd/api" ]]; then
  mkdir -p "$cache/debs" "$cache/root"
  (cd "$cache/debs" && apt-get download "${pkgs[@]}" >/dev/null)
  for d in "$cache"/debs/*.deb; do dpkg-deb -x "$d" "$cache/root"; done
fi

inc="$cache/inc"
rm -rf "$inc"; mkdir -p "$inc/github.com/containerd" "$inc/google/rpc"
ln -s "$src/github.com/containerd/containerd" "$inc/github.com/containerd/containerd"
ln -s "$src/github.com/containerd/cgroups" "$inc/github.com/containerd/cgroups"
ln -s "$src/github.com/gogo/protobuf/gogoproto" "$inc/gogoproto"
cp "$src/github.com/gogo/googleapis/google/rpc/status.proto" "$inc/google/rpc/status.proto"

api=github.com/containerd/containerd/api
services=(containers content diff images leases namespaces snapshots tasks events introspection version)
files=()
for s in "${services[@]}"; do
  for f in "$inc/$api/services/$s"/v1/*.proto; do files+=("${f#"$inc"/}"); done
done
files+=("$api/events/task.proto" "$api/events/container.proto" "$api/events/image.proto")

plugin="--plugin=protoc-gen-ts_proto=$root/node_modules/.bin/protoc-gen-ts_proto"
common="outputServices=grpc-js,env=node,esModuleInterop=true,useOptionals=all,useDate=true,outputJsonMethods=false,outputPartialMethods=false"
rm -rf "$out"; mkdir -p "$out/metrics"
protoc -I "$inc" "$plugin" --ts_proto_out="$out" --ts_proto_opt="$common,forceLong=number" "${files[@]}"
# cgroup metrics carry 2^63-ish limits: numbers would throw, so bigint.
protoc -I "$inc" "$plugin" --ts_proto_out="$out/metrics" --ts_proto_opt="$common,forceLong=bigint" \
  github.com/containerd/cgroups/stats/v1/metrics.proto github.com/containerd/cgroups/v2/stats/metrics.proto
rm -rf "$out/gogoproto" "$out/google/protobuf/descriptor.ts" "$out/metrics/gogoproto" "$out/metrics/google"
echo "$recipe" > "$stamp"
