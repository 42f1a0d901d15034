# vistudy — `make run` runs the default study, `make test` runs every test; both set up what they need.
SHELL := /bin/bash
GO ?= go
BIN := bin
ORT_DIR := .deps/onnxruntime
ORT_LIB := $(ORT_DIR)/libonnxruntime.so.1
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

# Every folder with a main.go under plugins/metrics and plugins/attacks is one plugin binary.
METRICS := $(patsubst plugins/metrics/%/main.go,%,$(wildcard plugins/metrics/*/main.go))
ATTACKS := $(patsubst plugins/attacks/%/main.go,%,$(wildcard plugins/attacks/*/main.go))
PLUGIN_BINS := $(BIN)/vistudy-runtime-onnxruntime \
	$(addprefix $(BIN)/vistudy-metric-,$(METRICS)) \
	$(addprefix $(BIN)/vistudy-perturbation-,$(ATTACKS))

export ONNXRUNTIME_LIB ?= $(abspath $(ORT_LIB))

.PHONY: all deps libturbojpeg build run test bench vet fmt clean proto
all: build

deps: $(ORT_LIB) libturbojpeg

# libjpeg-turbo decodes JPEGs bit-identical to PIL (apt-get on Debian; otherwise the command to run).
libturbojpeg:
	@scripts/install-libturbojpeg.sh

$(ORT_LIB): scripts/fetch-onnxruntime.sh
	scripts/fetch-onnxruntime.sh $(ORT_DIR)

# One go build for every binary (their packages compile in parallel), then plugin names.
build: deps
	@rm -rf $(BIN)/.build && mkdir -p $(BIN)/.build
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/.build/ ./cmd/vistudy ./runtimes/onnxruntime \
		$(addprefix ./plugins/metrics/,$(METRICS)) $(addprefix ./plugins/attacks/,$(ATTACKS))
	@mv $(BIN)/.build/vistudy $(BIN)/vistudy
	@mv $(BIN)/.build/onnxruntime $(BIN)/vistudy-runtime-onnxruntime
	@for m in $(METRICS); do mv $(BIN)/.build/$$m $(BIN)/vistudy-metric-$$m; done
	@for a in $(ATTACKS); do mv $(BIN)/.build/$$a $(BIN)/vistudy-perturbation-$$a; done
	@rm -rf $(BIN)/.build

# The default study: pipeline.yaml on stimuli and models the repository ships or generates. A
# rebuilt plugin (or zoo) after a pull redoes what it affects instead of refusing the old run.
run: build
	$(BIN)/vistudy run pipeline.yaml --redo

# The packages with concurrency run a second time under the race detector (-short: their long
# known-answer tests already ran above).
RACE_PKGS := ./pipeline/ ./plugins/host/ ./stages/load/ ./runtimes/onnxruntime/

# Fuzz targets as package:Target; `make test` runs each for FUZZTIME, `make fuzz` for longer.
FUZZ_TARGETS := ./pipeline:FuzzParseStudy ./stages/load:FuzzDecode ./runtimes/onnx:FuzzReadModel
FUZZTIME ?= 5s

test: build
	@scripts/install-test-packages.sh
	$(GO) vet ./...
	CGO_CFLAGS="$$($(GO) env CGO_CFLAGS) -DVS_NO_JPEGLIB" $(GO) vet ./stages/load/ # a build without libjpeg's header
	$(GO) test -timeout 30m ./...
	$(GO) test -race -short -timeout 20m $(RACE_PKGS)
	@$(MAKE) --no-print-directory test-fuzz

fuzz:
	$(MAKE) test-fuzz FUZZTIME=2m

test-fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $$t for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}" || exit 1; \
	done

bench: build
	bench/run.sh

proto:
	cd plugins/proto && $(GO) generate

clean:
	rm -rf $(BIN) runs
