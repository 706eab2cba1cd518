# The workshop's two commands: `make test` and `make demo`.
GO ?= go
# Every module that must be green: the workshop command, the shared module, the solutions.
MODULES := . shared benchmarks $(sort $(wildcard solutions/[0-9][0-9]-*))
STEP ?=

.PHONY: test vet test-modules exercises demo list

## test: vet and test every green module, then check every exercise is real and in sync
test: vet test-modules exercises

vet:
	@for m in $(MODULES); do echo "go vet   $$m"; (cd $$m && $(GO) vet ./...) || exit 1; done

# The modules' tests mostly wait on RabbitMQ, so several modules run at once; each
# module's output is printed whole when it is done.
test-modules:
	@printf '%s\n' $(MODULES) | xargs -P 4 -I{} sh -c 'out=$$(cd {} && $(GO) test -count=1 -timeout 10m ./... 2>&1); rc=$$?; printf "go test  %s\n%s\n" {} "$$out"; exit $$rc'

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
