module github.com/ot2otel/workshop

go 1.26

require (
	github.com/ot2otel/workshop/shared v0.0.0
	gopkg.in/yaml.v3 v3.0.1
)

replace github.com/ot2otel/workshop/shared => ./shared
