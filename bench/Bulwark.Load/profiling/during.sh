# Sourced by profile.sh and bench/AllocationStacks/allocations.sh: starts the load tool (Release, already built) from
# the repository root ($ROOT) with the rest of the command line, its output in $OUT/tool.log and its JSON in
# $OUT/result.json; waits until a line of that output matches $WHEN, then $DELAY seconds more. Sets TOOL (the tool's
# process) and PID (its server's).
cd "$ROOT"
dotnet run -c Release --no-build --project bench/Bulwark.Load -- "$@" "$OUT/result.json" > "$OUT/tool.log" 2>&1 &
TOOL=$!
until grep -qE "$WHEN" "$OUT/tool.log"; do
  kill -0 $TOOL 2>/dev/null || { echo "the tool ended before '$WHEN'"; exit 1; }
  sleep 0.3
done
PID=$(pgrep -n -f "Bulwark.Load.dll check-server")
sleep "$DELAY"
