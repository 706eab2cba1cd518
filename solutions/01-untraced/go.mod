module github.com/ot2otel/workshop/solutions/01-untraced

go 1.26.0

require (
	github.com/gorilla/mux v1.8.1
	github.com/ot2otel/workshop/shared v0.0.0
	github.com/rabbitmq/amqp091-go v1.16.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/redis/go-redis/v9 v9.23.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/ot2otel/workshop/shared => ../../shared
