# The workshop's two commands: `make test` and `make demo`.
GO ?= go
# Every module that must be green: the workshop command, the shared module, the solutions.
MODULES := . shared benchmarks slides $(sort $(wildcard solutions/[0-9][0-9]-*))
STEP ?=

.PHONY: test vet standalone test-modules exercises check demo list prefetch slides slides-pdf slides-img slides-traces fuzz race stress jaeger e2e load-figures

## test: (maintainers) vet and test every green module, build each step and solution outside
## the workspace, then check every exercise is real and steps/ is in sync: it fails once you
## have edited a step. Attendees: make check.
# The four parts are independent and mostly wait on RabbitMQ, so they run at once, each
# part's output printed whole when it is done (about 80 s warm on 2 cores, where one after
# the other took 120 s or more). The longest part goes first: test-modules, whose slowest
# package, cmd/workshop, plants mistakes in copies of the solutions. What is left is
# mostly CPU: compiling and linking a test binary per module, step and planted mistake.
test:
	@$(MAKE) --no-print-directory -j4 --output-sync=target test-modules exercises vet standalone

# The solutions are vetted by standalone, on their own go.mod, and the steps by the
# exercises' verify: vetting them here too cost about a tenth of make test's CPU.
VET_MODULES := . shared benchmarks slides
vet:
	@for m in $(VET_MODULES); do echo "go vet   $$m"; (cd $$m && $(GO) vet ./...) || exit 1; done

## standalone: every step and solution builds on its own go.mod, outside go.work, and
## each solution vets there too (verify vets each step)
standalone:
	@for m in $(sort $(wildcard solutions/[0-9][0-9]-*)); do echo "GOWORK=off go build+vet  $$m"; \
		(cd $$m && GOWORK=off $(GO) build ./... && GOWORK=off $(GO) vet ./...) || exit 1; done
	@for m in $(sort $(wildcard steps/[0-9][0-9]-*)); do echo "GOWORK=off go build  $$m"; \
		(cd $$m && GOWORK=off $(GO) build ./...) || exit 1; done

# The modules' tests mostly wait on RabbitMQ, so several modules run at once; each
# module's output is printed whole when it is done.
test-modules:
	@printf '%s\n' $(MODULES) | xargs -P 4 -I{} sh -c 'out=$$(cd {} && $(GO) test -count=1 -timeout 15m ./... 2>&1); rc=$$?; printf "go test  %s\n%s\n" {} "$$out"; exit $$rc'

exercises:
	@echo "exercises: steps/ in sync with solutions/ and exercises/"
	@$(GO) run ./cmd/workshop sync -check
	@echo "exercises: each step compiles and fails naming its TODOs"
	@$(GO) run ./cmd/workshop verify

## check: (attendees) run your step's tests and say what is still to do: make check STEP=03
check:
	@test -n "$(STEP)" || { echo "make check STEP=NN: which step? (make list)"; exit 2; }
	@$(GO) run ./cmd/workshop check $(STEP)

## demo: run a step's system, place an order, print what happened. STEP=03 picks the
## step; FROM=steps runs your steps/03 instead of solutions/03; ORDER=out-of-stock orders
## more than stock holds (the opening story's order: its trace shows where it failed).
FROM ?= solutions
ORDER ?=
demo:
	@$(GO) run ./cmd/workshop demo $(if $(filter steps,$(FROM)),-step) $(if $(filter out-of-stock,$(ORDER)),-out-of-stock) $(STEP)

list:
	@$(GO) run ./cmd/workshop list

## prefetch: (the day before) every Go module any step, solution, tool (Jaeger too), the
## slides and the tests need, and the images Compose uses (pulled where Docker runs):
## after it the day works offline, GOPROXY=off included
prefetch:
	@GO=$(GO) ./scripts/prefetch.sh

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

## slides-traces: draw each step's order trace (and the trace of an order stock could not
## fill) as the SVG waterfalls in slides/img/traces, from real runs of the demos; a
## picture whose trace kept its shape keeps its file
TRACE_STEPS := 02 03 04 05 06 07
slides-traces:
	@for n in $(TRACE_STEPS); do $(GO) run ./cmd/workshop demo -svg slides/img/traces $$n >/dev/null || exit 1; done
	@$(GO) run ./cmd/workshop demo -svg slides/img/traces -out-of-stock 06 >/dev/null
	@ls slides/img/traces/*.svg

## fuzz: run every fuzz target for FUZZTIME each (their seed corpora already run in make test)
FUZZTIME ?= 20s
FUZZ_DIRS := shared $(sort $(wildcard solutions/[0-9][0-9]-*))
fuzz:
	@for m in $(FUZZ_DIRS); do \
		for pkg in $$(cd $$m && $(GO) list -f '{{if .TestGoFiles}}{{.Dir}}{{end}}' ./...); do \
			for fz in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$pkg/*_test.go | sed 's/^func //'); do \
				echo "go test -fuzz $$fz  $${pkg#$(CURDIR)/}"; \
				(cd $$pkg && $(GO) test -run '^$$' -fuzz "^$$fz$$" -fuzztime $(FUZZTIME) .) || exit 1; \
			done; \
		done; \
	done

## load-figures: (maintainers, on a quiet machine) the three cost runs benchmarks/README.md
## quotes, from one commit: 10 % sampled (load-sampled.txt), nothing sampled at the root
## (load-unsampled.txt), everything sampled (load.txt), steps 01 03 04 06 07, with the
## batch settings a fleet would use (LOAD_FLEET_ENV; see benchmarks/README.md). About 17
## minutes on 2 cores.
LOAD_STEPS ?= 01 03 04 06 07
LOAD_FLAGS ?= -rounds 3 -duration 10s -warmup 2s
LOAD_FLEET_ENV ?= -env OTEL_BSP_MAX_QUEUE_SIZE=2048 -env OTEL_BSP_MAX_EXPORT_BATCH_SIZE=512 \
	-env OTEL_BSP_SCHEDULE_DELAY=5000 -env OTEL_BSP_EXPORT_TIMEOUT=30000 \
	-env JAEGER_REPORTER_MAX_QUEUE_SIZE=2048 -env JAEGER_REPORTER_FLUSH_INTERVAL=1s
load-figures:
	@test -z "$$(git status --porcelain)" || { echo "load-figures: commit first: the three files must name one clean commit"; exit 2; }
	$(GO) run ./cmd/workshop load $(LOAD_FLAGS) $(LOAD_FLEET_ENV) -sampling 0.1 -out benchmarks/load-sampled.txt $(LOAD_STEPS)
	$(GO) run ./cmd/workshop load $(LOAD_FLAGS) $(LOAD_FLEET_ENV) -sampling 0 -out benchmarks/load-unsampled.txt $(LOAD_STEPS)
	$(GO) run ./cmd/workshop load $(LOAD_FLAGS) $(LOAD_FLEET_ENV) -sampling 1 -out benchmarks/load.txt $(LOAD_STEPS)

## race: the race detector over shared and the solutions (CI runs it after make test)
RACE_MODULES := shared $(sort $(wildcard solutions/[0-9][0-9]-*))
race:
	@for m in $(RACE_MODULES); do echo "go test -race  $$m"; (cd $$m && $(GO) test -race -count=1 -timeout 15m ./...) || exit 1; done

## stress: (maintainers) the solutions' suites STRESS_RUNS times over, one after the other,
## while STRESS_BURN busy loops that the target starts (and stops) keep both cores busy:
## a test that depends on how fast the machine runs fails here. Each failing run's
## output is kept in STRESS_LOGS. The race detector's packages: make stress
## STRESS_FLAGS=-race STRESS_MODULES="$(RACE_MODULES)"
STRESS_RUNS ?= 5
STRESS_BURN ?= 2
STRESS_FLAGS ?=
STRESS_MODULES ?= $(sort $(wildcard solutions/[0-9][0-9]-*))
STRESS_LOGS ?= $(or $(TMPDIR),/tmp)/workshop-stress
stress:
	@mkdir -p $(STRESS_LOGS); burners=""; \
	for i in $$(seq $(STRESS_BURN)); do sh -c 'while :; do :; done' & burners="$$burners $$!"; done; \
	trap 'kill $$burners 2>/dev/null' EXIT INT TERM; \
	runs=0; fails=0; \
	for r in $$(seq $(STRESS_RUNS)); do for m in $(STRESS_MODULES); do \
		runs=$$((runs+1)); log=$(STRESS_LOGS)/run$$r-$$(basename $$m).log; \
		if (cd $$m && $(GO) test -count=1 $(STRESS_FLAGS) -timeout 15m ./... >$$log 2>&1); then \
			echo "stress: run $$r $$m ok (load $$(cut -d' ' -f1 /proc/loadavg))"; rm -f $$log; \
		else \
			fails=$$((fails+1)); echo "stress: run $$r $$m FAILED (load $$(cut -d' ' -f1 /proc/loadavg)), output in $$log:"; \
			grep -E -e '--- FAIL|^panic:|^FAIL' $$log | sed 's/^/    /'; \
		fi; \
	done; done; \
	echo "stress: $$runs suite runs, $$fails failed, $(STRESS_BURN) busy loops beside them on $$(nproc) cores, load $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	test $$fails -eq 0

# Jaeger v2, built from its Go module (tools/jaeger, outside go.work so that no step ever
# resolves Jaeger's requirements). The first build downloads about 330 MB of modules and
# takes several CPU-minutes; later runs start at once.
JAEGER_BIN := bin/jaeger

$(JAEGER_BIN): tools/jaeger/go.mod tools/jaeger/go.sum
	@echo "building Jaeger v2 from github.com/jaegertracing/jaeger (the first build takes minutes)"
	cd tools/jaeger && GOWORK=off $(GO) build -o ../../$(JAEGER_BIN) github.com/jaegertracing/jaeger/cmd/jaeger

## jaeger: run Jaeger v2 all-in-one on loopback, spans in memory (no UI: see the README)
jaeger: $(JAEGER_BIN)
	$(JAEGER_BIN) --config file:tools/jaeger/config.yaml

## e2e: every traced step as three processes against a real Jaeger, traces read back from it
e2e: $(JAEGER_BIN)
	JAEGER_BIN=$(abspath $(JAEGER_BIN)) $(GO) test -tags e2e -count=1 -v -timeout 20m ./e2e
