#!/usr/bin/env bash
# Builds nfpm (v2.45.2, pinned in tools/nfpm/go.mod as a Go tool) into
# bin/nfpm for "make package". The tool lives in its own module so the
# project's go.mod keeps its dependencies and its go directive (later nfpm
# releases need modules that are not on the module proxy). Cached: does
# nothing when the binary is already there (delete it, or pass -f, to
# rebuild).
#
#   tools/nfpm/build.sh              # -> bin/nfpm
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${NFPM_OUT:-bin/nfpm}
case $out in /*) ;; *) out=$PWD/$out ;; esac
if [ "${1:-}" != "-f" ] && [ -x "$out" ]; then
  echo "nfpm: $out is built"
  exit 0
fi
mkdir -p "$(dirname "$out")"
start=$(date +%s)
CGO_ENABLED=0 go -C tools/nfpm build -trimpath -buildvcs=false -o "$out" github.com/goreleaser/nfpm/v2/cmd/nfpm
echo "nfpm: built $out in $(( $(date +%s) - start ))s"
