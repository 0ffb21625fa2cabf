#!/usr/bin/env bash
# Differential check of our PromQL engine against Debian's Prometheus (2.42) on the
# same data: gen.py writes the data, promtool backfills it for Prometheus, our
# promqltest --serve loads it, and diff.py compares every query of queries.txt.
# The times are chosen off the 15s sample grid so that the deliberate Prometheus 3
# differences (left-open ranges and lookback) rarely show; the few that remain,
# and the functions renamed in 3.x, are listed in docs/conformance.md.
#   tests/promql_diff/run.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cd "$work"
python3 "$here/gen.py"
promtool tsdb create-blocks-from openmetrics data.om prom > /dev/null
echo "global: {}" > prometheus.yml
pa=$(port); pb=$(port)
prometheus --config.file=prometheus.yml --storage.tsdb.path=prom \
  --storage.tsdb.retention.time=100y --web.listen-address=127.0.0.1:$pa > prom.log 2>&1 &
pids+=($!)
"$build/tools/promqltest" --no-delayed-name-removal --serve 127.0.0.1:$pb data.test > ours.log 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$pa/-/ready" > /dev/null && grep -q listening ours.log && break
  sleep 0.2
done
python3 "$here/diff.py" "$here/queries.txt" "http://127.0.0.1:$pa" "http://127.0.0.1:$pb"
