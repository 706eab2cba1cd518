module github.com/ot2otel/workshop/slides

go 1.26.0

tool golang.org/x/tools/cmd/present

require (
	github.com/chromedp/cdproto v0.160.1
	github.com/chromedp/chromedp v0.23.1
	github.com/opentracing/opentracing-go v1.2.0
	github.com/rabbitmq/amqp091-go v1.16.0
	golang.org/x/tools v0.52.0
)

require (
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	github.com/yuin/goldmark v1.4.13 // indirect
	golang.org/x/net v0.61.0 // indirect
)
