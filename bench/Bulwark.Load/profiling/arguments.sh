# Sourced first by profile.sh and bench/AllocationStacks/allocations.sh: takes OUT_DIR 'REGEX' DELAY SECONDS [--] off
# the command line (the rest is the load tool's), as OUT (created, made absolute), WHEN, DELAY and SECONDS_, and sets
# ROOT to the repository root.
set -euo pipefail
OUT=$1 WHEN=$2 DELAY=$3 SECONDS_=$4
shift 4
[ "$1" = "--" ] && shift
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
