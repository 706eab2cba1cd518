module github.com/ot2otel/workshop/steps/01-untraced

go 1.26

require (
	github.com/gorilla/mux v1.8.1
	github.com/ot2otel/workshop/shared v0.0.0
	github.com/rabbitmq/amqp091-go v1.16.0
)

replace github.com/ot2otel/workshop/shared => ../../shared
