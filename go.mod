module github.com/ot2otel/workshop

go 1.26

require (
	github.com/ot2otel/workshop/shared v0.0.0
	gopkg.in/yaml.v3 v3.0.1
)

require github.com/rabbitmq/amqp091-go v1.16.0

replace github.com/ot2otel/workshop/shared => ./shared
