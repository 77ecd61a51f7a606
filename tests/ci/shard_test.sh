#!/usr/bin/env bash
# ci/shard splits the suite into disjoint shards that together hold every test.
set -euo pipefail
source=$1 build=$2
all=$(cd "$build" && ctest -N | grep -E '^ +Test +#' | sed 's/.*: //' | sort)
union=""
for i in 1 2 3; do
  shard=$(NSLAB_SHARD_DRY_RUN=1 "$source/ci/shard" "$i" 3 "$build" | grep -E '^ +Test +#' | sed 's/.*: //' | sort)
  [ -n "$shard" ] || { echo "shard $i of 3 is empty"; exit 1; }
  union=$(printf '%s\n%s\n' "$union" "$shard" | sed '/^$/d')
done
if [ "$(echo "$union" | sort)" != "$all" ]; then
  echo "the shards do not hold every test exactly once"; diff <(echo "$union" | sort) <(echo "$all"); exit 1
fi
echo "3 shards hold all $(echo "$all" | wc -l) tests exactly once"
