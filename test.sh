#!/usr/bin/env bash
# Runs the whole test suite, as CI does (CI runs .ci/run, which calls this).
# - Installs what the tests need when it is missing: Debian packages when run as root (promtool from `prometheus`,
#   Node.js and npm), and the official npm peer clients into tests/interop/node_modules (git-ignored).
# - Builds everything in Release with warnings as errors and checks formatting.
# - Runs every test project, then prints one closing line: "N passed, M failed" (", K skipped" when any skip).
# Infrastructure tests skip on a machine without their tools, but fail when CI is set.
set -uo pipefail
cd "$(dirname "$0")"

missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/dev/null \
      || echo "warning: could not install ${missing[*]}" >&2
  else
    echo "warning: ${missing[*]} missing and not root: the tests that need it will skip (and fail under CI=true)" >&2
  fi
fi

# Installed again whenever package-lock.json changed since the last install (a stamp beside node_modules).
if ! cmp -s tests/interop/package-lock.json tests/interop/node_modules/.bulwark-installed-lock 2>/dev/null && command -v npm >/dev/null 2>&1; then
  echo "== installing npm peer clients (tests/interop)"
  if npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error >/dev/null 2>&1; then
    cp tests/interop/package-lock.json tests/interop/node_modules/.bulwark-installed-lock
  else
    echo "warning: npm ci in tests/interop failed: the interop tests will skip (and fail under CI=true)" >&2
  fi
fi

echo "== build (Release, warnings as errors)"
if ! dotnet build Bulwark.slnx -c Release -warnaserror -nologo -v quiet; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

echo "== format check"
format_failed=0
if ! dotnet format Bulwark.slnx --verify-no-changes --no-restore -v quiet; then
  echo "dotnet format found unformatted code: run 'dotnet format Bulwark.slnx'"
  format_failed=1
fi

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
status=$format_failed
crashed=0
for project in tests/*.Tests/*.Tests.csproj; do
  name=$(basename "$project" .csproj)
  echo "== $name"
  if ! dotnet test "$project" -c Release --no-build --nologo \
       --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=minimal" --results-directory "$results"; then
    status=1
  fi
  if [ ! -f "$results/$name.trx" ]; then
    echo "$name produced no results (crashed?)"
    crashed=$((crashed + 1))
    status=1
  fi
done

total=0 passed=0 failed=$((crashed + format_failed))
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  value() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
  t=$(value total); p=$(value passed); f=$(( $(value failed) + $(value error) + $(value timeout) + $(value aborted) ))
  total=$((total + t)); passed=$((passed + p)); failed=$((failed + f))
done
skipped=$((total - passed - (failed - crashed - format_failed)))
[ "$failed" -gt 0 ] && status=1

echo
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
exit $status
