#!/bin/bash
# Samples the load tool's server process with perf while one phase of a measurement runs, then splits the samples by
# where the time went (perf-breakdown.py). Linux, root (or perf_event_paranoid <= 1), Debian package `linux-perf`.
#
#   bench/Bulwark.Load/profiling/profile.sh OUT_DIR 'REGEX' DELAY SECONDS -- webhooks|events [tool options]
#
# Starts the tool (Release, already built) with perf maps on and W^X off (so perf can name JIT-compiled methods), waits
# until a line of its output matches REGEX (for example '^bare rate=5000' marks the end of the bare run, so the real
# run has begun), waits DELAY seconds more, then for SECONDS records the server process: call stacks at 499 Hz
# (perf record -g), every fsync with its duration (perf trace), CPU time and context switches (perf stat), and which
# files its descriptors are. Example, the real endpoint at 5,000 deliveries/s:
#
#   bench/Bulwark.Load/profiling/profile.sh /tmp/p5000 '^bare rate=5000' 4 8 -- webhooks --rates 5000 \
#       --concurrency none --seconds 20 --rounds 1 --warm-up 3
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/arguments.sh"
export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
. "$HERE/during.sh"
ls -l "/proc/$PID/fd" | grep -E '\.db' > "$OUT/files.txt" || true
perf trace -e fsync,fdatasync -p "$PID" -o "$OUT/fsync.txt" -- sleep "$SECONDS_" 2>/dev/null &
perf stat -e task-clock,context-switches -p "$PID" -o "$OUT/stat.txt" -- sleep "$SECONDS_" 2>/dev/null &
perf record -F 499 -g -p "$PID" -o "$OUT/perf.data" -- sleep "$SECONDS_" 2>/dev/null
wait $TOOL || true
perf script -i "$OUT/perf.data" 2>/dev/null | python3 "$HERE/perf-breakdown.py" | tee "$OUT/breakdown.txt"
python3 "$HERE/perf-breakdown.py" --fsync "$OUT/fsync.txt" "$OUT/files.txt" | tee -a "$OUT/breakdown.txt"
grep -E "task-clock|context-switches" "$OUT/stat.txt" | tee -a "$OUT/breakdown.txt"
