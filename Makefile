# The workshop's two commands: `make test` and `make demo`.
GO ?= go
# Every module that must be green: the workshop command, the shared module, the solutions.
MODULES := . shared benchmarks slides $(sort $(wildcard solutions/[0-9][0-9]-*))
STEP ?=

.PHONY: test vet test-modules exercises demo list slides slides-pdf slides-img

## test: vet and test every green module, then check every exercise is real and in sync
test: vet test-modules exercises

vet:
	@for m in $(MODULES); do echo "go vet   $$m"; (cd $$m && $(GO) vet ./...) || exit 1; done

test-modules:
	@for m in $(MODULES); do echo "go test  $$m"; (cd $$m && $(GO) test -count=1 -timeout 10m ./...) || exit 1; done

exercises:
	@echo "exercises: steps/ in sync with solutions/ and exercises/"
	@$(GO) run ./cmd/workshop sync -check
	@echo "exercises: each step compiles and fails naming its TODOs"
	@$(GO) run ./cmd/workshop verify

## demo: run one step's system, place an order, print what happened (STEP=03 picks a step)
demo:
	@$(GO) run ./cmd/workshop demo $(STEP)

list:
	@$(GO) run ./cmd/workshop list

## slides: serve the talk with present on 127.0.0.1:3999 (speaker notes: press N)
slides:
	@echo "slides: http://127.0.0.1:3999/slides/workshop.slide"
	@cd slides && $(GO) tool present -http 127.0.0.1:3999 -content .. -play=false -notes

## slides-pdf: the main deck as a PDF, one slide a page, in slides/_out/workshop.pdf
slides-pdf:
	@cd slides && $(GO) run ./cmd/slides-pdf -o _out/workshop.pdf workshop.slide

## slides-img: regenerate the slides' SVG diagrams from their Graphviz sources
slides-img:
	@for f in slides/img/*.dot; do echo "dot $$f"; dot -Tsvg "$$f" -o "$${f%.dot}.svg" || exit 1; done
