#!/bin/bash
# Where a Bulwark server's allocations come from, by call stack, while one phase of a load-tool measurement runs.
#
#   bench/AllocationStacks/allocations.sh OUT_DIR 'REGEX' DELAY SECONDS -- webhooks|events [tool options]
#
# Installs dotnet-trace into OUT_DIR/tools when missing, starts the load tool (Release, already built), waits until a
# line of its output matches REGEX (for example '^bare c=128': the real endpoint's closed-loop run has begun), waits
# DELAY seconds more, traces the server's allocation ticks (about one per 100 KB, with stacks) for SECONDS, then prints
# them grouped by the first Bulwark frame and by type. Example, the real endpoint with 128 connections:
#
#   bench/AllocationStacks/allocations.sh /tmp/alloc '^bare c=128' 1 4 -- webhooks --rates none --concurrency 128 \
#       --seconds 8 --rounds 1 --warm-up 1
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../Bulwark.Load/profiling/arguments.sh"
[ -x "$OUT/tools/dotnet-trace" ] || dotnet tool install dotnet-trace --tool-path "$OUT/tools" > /dev/null
TRACE_TOOLS=$(dirname "$(find "$OUT/tools/.store" -name Microsoft.Diagnostics.Tracing.TraceEvent.dll | head -1)")
dotnet build -c Release "$HERE" -p:DotnetTraceTools="$TRACE_TOOLS" -o "$OUT/analyzer" > "$OUT/build.log"
. "$ROOT/bench/Bulwark.Load/profiling/during.sh"
"$OUT/tools/dotnet-trace" collect -p "$PID" --providers Microsoft-Windows-DotNETRuntime:0x1:5 \
  --duration "00:00:00:$(printf %02d "$SECONDS_")" -o "$OUT/allocations.nettrace" > /dev/null
wait $TOOL || true
dotnet "$OUT/analyzer/AllocationStacks.dll" "$OUT/allocations.nettrace" 5 | tee "$OUT/allocations.txt"
