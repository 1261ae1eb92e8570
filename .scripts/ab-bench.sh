#!/usr/bin/env bash
# Paired benchmark of two versions: the working tree against <commit>, alternating runs, so that the
# machine's drift hits both sides alike. Prints one line of figures per run, labelled old / new.
#
# usage: .scripts/ab-bench.sh <commit> [package=mock-server] [bench=server] [pairs=4] [filter-regex]
#   BENCH_SECONDS and the bench's other variables pass through (default BENCH_SECONDS=6 here).
#
# The old version is checked out as a git worktree in .tmp/ab-old (made once, moved to <commit>
# on later calls). Its node_modules links every third-party package to this checkout's, and
# @campus-card/* to its own packages. Each bench is bundled into its own package's .tmp folder, so
# that native modules (better-sqlite3) resolve as they do under `npm run bench`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
commit="${1:?usage: ab-bench.sh <commit> [package] [bench] [pairs] [filter]}"
pkg="${2:-mock-server}"
bench="${3:-server}"
pairs="${4:-4}"
filter="${5:-.}"
old="$root/.tmp/ab-old"

if [ ! -d "$old" ]; then
  mkdir -p "$root/.tmp"
  git -C "$root" worktree add --detach -q "$old" "$commit"
else
  git -C "$old" checkout --detach -q "$commit"
fi
if [ ! -d "$old/node_modules" ]; then
  mkdir "$old/node_modules"
  for e in "$root"/node_modules/* "$root"/node_modules/.bin; do
    n="$(basename "$e")"
    [ "$n" = "@campus-card" ] || ln -s "$e" "$old/node_modules/$n"
  done
  mkdir "$old/node_modules/@campus-card"
  for p in "$old"/packages/*; do ln -s "$p" "$old/node_modules/@campus-card/$(basename "$p")"; done
fi
# dependencies npm nested under a package (a version other than the hoisted one)
for m in "$root"/packages/*/node_modules; do
  [ -d "$m" ] || continue
  p="$(basename "$(dirname "$m")")"
  [ -d "$old/packages/$p" ] && [ ! -e "$old/packages/$p/node_modules" ] && ln -s "$m" "$old/packages/$p/node_modules"
done

bundle() { # <checkout>
  mkdir -p "$1/packages/$pkg/.tmp"
  node -e "import('$root/.scripts/lib/bundle.mjs').then((m) => m.bundleForNode(process.argv[1], process.argv[2]))" \
    "$1/packages/$pkg/bench/$bench.ts" "$1/packages/$pkg/.tmp/ab-$bench.mjs"
}
bundle "$old"
bundle "$root"

export BENCH_SECONDS="${BENCH_SECONDS:-6}"
for ((i = 1; i <= pairs; i++)); do
  for side in old new; do
    dir="$root"
    [ "$side" = old ] && dir="$old"
    printf '%s ' "$side"
    (cd "$dir/packages/$pkg" && node --enable-source-maps ".tmp/ab-$bench.mjs") |
      grep -E "$filter" |
      sed -E 's/.*"name":"([^"]+)","value":([^,]+),.*/\1=\2/' |
      tr '\n' ' '
    echo
  done
done
