#!/bin/sh
# copied-test-lines.sh: how many non-blank lines of the test files of solutions 02–06 are
# unchanged from the previous step's same-named test file (diff's unchanged lines), as a
# share of all their non-blank test lines. Run from the repository root.
set -eu
total=0; copied=0
prev=""
for dir in solutions/[0-9][0-9]-*; do
	if [ -n "$prev" ]; then
		for f in "$dir"/*_test.go; do
			[ -e "$f" ] || continue
			n=$(grep -cv '^[[:space:]]*$' "$f" || true)
			total=$((total + n))
			old="$prev/$(basename "$f")"
			[ -e "$old" ] || continue
			c=$(diff --old-line-format='' --new-line-format='' --unchanged-line-format='%L' "$old" "$f" | grep -cv '^[[:space:]]*$' || true)
			copied=$((copied + c))
		done
	fi
	prev=$dir
done
echo "test lines in steps 02–06: $total, unchanged from the step before: $copied ($((copied * 100 / total)) %)"
