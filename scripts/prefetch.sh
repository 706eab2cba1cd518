#!/bin/sh
# prefetch.sh (make prefetch): everything the workshop day needs from the network, fetched
# once, the day before, so that twenty laptops on one Wi-Fi download nothing at 9:00.
#
# Go modules: for every module of go.work, the packages and tests of the module, as the
# workspace builds them and as the module builds on its own (make standalone; the two
# build lists can differ); the slides' present tool; Jaeger v2's cmd/jaeger (tools/jaeger,
# about 330 MB the first time). go list loads every package with its imports, so what it
# fetches is exactly what go build, go vet and go test need (go mod download is not used:
# it would add lines to the modules' go.sum). After it, GOPROXY=off works:
# prefetch_test.go proves it, and that prefetch changes no file of the repository.
#
# Images: the ones docker-compose.yml runs and the Dockerfile builds from, listed, and
# pulled where a Docker engine answers.
set -eu
GO=${GO:-go}
cd "$(dirname "$0")/.."

modules=$(sed -n 's/^[[:space:]]*\(\.[^[:space:]]*\)$/\1/p' go.work)
[ -n "$modules" ] || { echo "prefetch: no modules in go.work" >&2; exit 1; }

for m in $modules; do
	echo "prefetch: modules of $m"
	(cd "$m" && $GO list -deps -test ./... >/dev/null)
	(cd "$m" && GOWORK=off $GO list -deps -test ./... >/dev/null)
done
echo "prefetch: modules of the slides' present tool"
(cd slides && $GO list -deps tool >/dev/null && GOWORK=off $GO list -deps tool >/dev/null)
echo "prefetch: modules of Jaeger v2 (tools/jaeger: the first time, about 330 MB)"
(cd tools/jaeger && GOWORK=off $GO list -deps github.com/jaegertracing/jaeger/cmd/jaeger >/dev/null)

# The images: docker-compose.yml's image: lines, and the Dockerfile's FROM lines with its
# ARG defaults filled in (golang:${GO_VERSION}).
images=$( {
	sed -n 's/^[[:space:]]*image:[[:space:]]*["'\'']\{0,1\}\([^"'\'' ]*\).*/\1/p' docker-compose.yml
	awk '/^ARG [A-Z_]+=/ { split($2, kv, "="); arg[kv[1]] = kv[2] }
		/^FROM / { img = $2; for (k in arg) gsub("\\$\\{" k "\\}", arg[k], img); print img }' Dockerfile
} | sort -u)
echo "prefetch: images docker-compose.yml uses:"
for i in $images; do echo "  $i"; done
if docker info >/dev/null 2>&1; then
	for i in $images; do docker pull "$i"; done
else
	echo "prefetch: no Docker engine answers here: images not pulled (docker pull each one where Docker runs)"
fi
echo "prefetch: done; the day needs no network (GOPROXY=off make list)"
