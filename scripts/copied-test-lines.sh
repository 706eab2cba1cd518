#!/bin/sh
# copied-test-lines.sh: how many non-blank lines of the test files of solutions 02–06 are
# unchanged from the previous step's same-named test file (diff's unchanged lines), as a
# share of all their non-blank test lines. Run from the repository root.
#
# It also says how many of the copied lines carry nothing of their own: a bracket alone,
# an import path, the package clause, `import (`, `var (`, t.Helper(). Every step is a
# module with its own test files, so some such lines repeat whatever the tests share.
set -eu
syntax='^[[:space:]]*([])}]+|import \(|var \(|package main|([a-z]+ )?"[A-Za-z0-9./_-]+"|t\.Helper\(\))[[:space:]]*$'
total=0; copied=0; bare=0
prev=""
for dir in solutions/[0-9][0-9]-*; do
	if [ -n "$prev" ]; then
		for f in "$dir"/*_test.go; do
			[ -e "$f" ] || continue
			n=$(grep -cv '^[[:space:]]*$' "$f" || true)
			total=$((total + n))
			old="$prev/$(basename "$f")"
			[ -e "$old" ] || continue
			same=$(diff --old-line-format='' --new-line-format='' --unchanged-line-format='%L' "$old" "$f" | grep -v '^[[:space:]]*$' || true)
			c=$(printf '%s' "$same" | grep -c . || true)
			b=$(printf '%s' "$same" | grep -cE "$syntax" || true)
			copied=$((copied + c)); bare=$((bare + b))
		done
	fi
	prev=$dir
done
echo "test lines in steps 02–06: $total, unchanged from the step before: $copied ($((copied * 100 / total)) %)"
echo "  of which brackets, imports and package clauses alone: $bare; the rest: $((copied - bare)) ($(( (copied - bare) * 100 / total )) %)"
