#!/bin/bash
# Runs the load tool (Release, already built) with the rest of the command line and samples its server process's
# resident set (VmRSS) every half second until the tool ends; prints the largest and the mean. Linux.
#
#   bench/Bulwark.Load/profiling/rss.sh -- webhooks OUT.json --rates 5000 --concurrency 128 --seconds 5 --rounds 3
#
# The server inherits the tool's environment, so a runtime setting can be compared by setting it for one run, for
# example DOTNET_GCDynamicAdaptationMode=0 (server GC without DATAS).
set -euo pipefail
[ "${1:-}" = "--" ] && shift
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT"
dotnet run -c Release --no-build --project bench/Bulwark.Load -- "$@" > /dev/null &
TOOL=$!
max=0 sum=0 n=0
while kill -0 "$TOOL" 2>/dev/null; do
  PID=$(pgrep -n -f "Bulwark.Load.dll check-server" || true)
  RSS=$( [ -n "$PID" ] && awk '/VmRSS/ {print $2}' "/proc/$PID/status" 2>/dev/null || true)
  if [ -n "$RSS" ]; then
    [ "$RSS" -gt "$max" ] && max=$RSS
    sum=$((sum + RSS)) n=$((n + 1))
  fi
  sleep 0.5
done
wait "$TOOL" || true
[ "$n" -gt 0 ] || { echo "no server process was seen"; exit 1; }
echo "server RSS: largest $((max / 1024)) MiB, mean $((sum / n / 1024)) MiB over $n samples"
