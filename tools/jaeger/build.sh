#!/usr/bin/env bash
# Builds Jaeger's all-in-one binary (v1.76.0, pinned in tools/jaeger/go.mod as
# a Go tool) into bin/jaeger for the OTLP end-to-end test. The tool lives in
# its own module so the project's go.mod keeps its dependencies and its go
# directive. Cached: does nothing when the binary is already there (delete
# it, or pass -f, to rebuild).
#
#   tools/jaeger/build.sh            # -> bin/jaeger
#   WIRETRACE_JAEGER=$PWD/bin/jaeger go test ./cmd/wiretrace/ -run Jaeger
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${JAEGER_OUT:-bin/jaeger}
case $out in /*) ;; *) out=$PWD/$out ;; esac
if [ "${1:-}" != "-f" ] && [ -x "$out" ]; then
  echo "jaeger: $out is built"
  exit 0
fi
mkdir -p "$(dirname "$out")"
start=$(date +%s)
go -C tools/jaeger build -trimpath -buildvcs=false -o "$out" github.com/jaegertracing/jaeger/cmd/all-in-one
echo "jaeger: built $out in $(( $(date +%s) - start ))s"
