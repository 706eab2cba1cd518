# One step's shop binary, for docker-compose.yml. The binary is the container's PID 1, so
# `docker compose stop` sends SIGTERM to the service itself, which then flushes its last
# spans before it exits (under `go run` the go command would be PID 1, and the service
# would be killed before it flushed).
#
#   docker build --build-arg STEP=steps/03-traced-rabbit-broker -t shop .
ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
ARG STEP=solutions/06-native-otel
WORKDIR /workshop
COPY . .
# go.work ties the step to the shared module, as `go run ./STEP` does on a laptop.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -buildvcs=false -o /shop "./${STEP}"

# Alpine for its busybox wget, which the compose health checks use.
FROM alpine:3.22
COPY --from=build /shop /shop
ENTRYPOINT ["/shop"]
CMD ["all"]
