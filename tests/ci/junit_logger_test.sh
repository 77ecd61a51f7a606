#!/usr/bin/env bash
# Boost.Test's JUnit logger carries nslab's failure messages: a matrix that
# fails on purpose shows up as a failed testcase whose text holds the tables.
set -euo pipefail
demo=$1
xml=$(mktemp /tmp/nslab-junit-XXXXXX.xml)
trap 'rm -f "$xml"' EXIT
set +e
"$demo" --logger=JUNIT,error,"$xml" > /dev/null 2>&1
rc=$?
set -e
if [ "$rc" = 4 ]; then echo "skipped: no lab can be built here"; exit 4; fi
[ "$rc" != 0 ] || { echo "the demo should fail"; exit 1; }
grep -q '<testcase' "$xml" || { echo "no testcase in the JUnit file"; cat "$xml"; exit 1; }
grep -q 'name="wrong_on_purpose"' "$xml" || { echo "testcase name missing"; cat "$xml"; exit 1; }
grep -q '<failure' "$xml" || { echo "no failure element"; cat "$xml"; exit 1; }
grep -Eq 'difference \(icmp\): expected(&gt;|>)observed' "$xml" || { echo "no difference table"; cat "$xml"; exit 1; }
grep -Eq 'X(&gt;|>)\.' "$xml" || { echo "the wrong cell is not shown"; cat "$xml"; exit 1; }
echo "JUnit report holds the failed matrix with its difference table"
