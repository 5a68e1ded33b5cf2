# tend: `make run` and `make test` set up a fresh Debian 12 machine (as root) themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help

BAZEL := bazel
BAZEL_FLAGS := -c opt
TEND := bazel-bin/runtime/tend
PYTHON := /usr/bin/python3
PORT ?= 3000
RUN_HTTP ?= 127.0.0.1:9615
RUN_CONTROL ?= $(CURDIR)/.deps/run/control.sock

# Debian packages the build, the tests and the benchmarks need.
APT_PACKAGES := build-essential pkg-config dpkg-dev bazel-bootstrap bazel-rules-java \
	libabsl-dev libprotobuf-dev protobuf-compiler libgrpc++-dev libgrpc-dev \
	protobuf-compiler-grpc grpc-proto libgtest-dev libssl-dev libre2-dev libc-ares-dev \
	zlib1g-dev nlohmann-json3-dev rapidjson-dev libyaml-cpp-dev libhttp-parser-dev clang-format nodejs procps util-linux python3 python3-pytest python3-yaml tini dumb-init wrk curl tmux \
	prometheus python3-grpcio python3-grpc-tools openssl podman runc conmon fuse-overlayfs buildah \
	slirp4netns uidmap catatonit containernetworking-plugins golang-github-containers-common

# prometheus-cpp has no static library in Debian: its source package is unpacked here.
PROMETHEUS_CPP := .deps/prometheus-cpp
# The peer the cluster benchmark compares with, from npm (only `make bench` needs it).
PM2_VERSION := 7.0.4
PM2_RUNTIME := .deps/npm/node_modules/.bin/pm2-runtime
# What the tests need from npm: kubernetes-models validates k8s/ offline against the
# Kubernetes API's own schemas; Express is the framework app of the migration tests; dotenv
# is what ecosystem files of the corpus test require; prom-client is the metrics library of
# the app-metrics tests and examples/metrics.
NPM_TEST_PACKAGES := .deps/npm/node_modules/.tend-test-packages-3

.PHONY: help deps apt-packages build run test format-check unit-test integration-test bench clean

help:
	@echo "make run    build tend and run it on the example app (installs what is missing)"
	@echo "make test   build tend and run every test (installs what is missing)"
	@echo "make bench  compare tend with its peers"

deps: apt-packages $(PROMETHEUS_CPP)/WORKSPACE

# Installs only what is missing; a no-op (a dpkg query) when everything is there.
apt-packages:
	@missing=$$(dpkg-query -W -f='$${Package} $${db:Status-Status}\n' $(APT_PACKAGES) 2>/dev/null \
		| awk '$$2=="installed"{print $$1}' | sort | comm -13 - <(tr ' ' '\n' <<<"$(APT_PACKAGES)" | grep . | sort)); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $$missing; \
	fi

# `apt-get source PACKAGE` unpacked into .deps/src, through a private deb-src list and apt
# state, so the machine's apt configuration is left alone.
define apt-source
	rm -rf .deps/apt .deps/src
	mkdir -p .deps/apt/sources .deps/apt/lists/partial .deps/src
	{ cat /etc/apt/sources.list.d/debian.sources 2>/dev/null | sed 's/^Types: deb$$/Types: deb-src/'; } \
		> .deps/apt/sources/debian-src.sources
	{ grep -h '^deb .*debian' /etc/apt/sources.list 2>/dev/null | sed 's/^deb /deb-src /'; } \
		> .deps/apt/sources/debian-src.list
	apt-get -qq -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$(CURDIR)/.deps/apt/sources \
		-o Dir::State::Lists=$(CURDIR)/.deps/apt/lists update
	cd .deps/src && apt-get -qq -o Dir::Etc::SourceList=/dev/null \
		-o Dir::Etc::SourceParts=$(CURDIR)/.deps/apt/sources \
		-o Dir::State::Lists=$(CURDIR)/.deps/apt/lists source $(1) 2>&1 | grep -v '^W: Download is performed unsandboxed' || true
endef

$(PROMETHEUS_CPP)/WORKSPACE: | apt-packages
	rm -rf $(PROMETHEUS_CPP)
	$(call apt-source,prometheus-cpp)
	mv .deps/src/prometheus-cpp-*/ $(PROMETHEUS_CPP)
	rm -rf .deps/src .deps/apt

build: deps
	$(BAZEL) build $(BAZEL_FLAGS) //runtime:tend

# The example the way users run their own: two workers sharing one port, endpoints on.
run: build
	@mkdir -p $(dir $(RUN_CONTROL))
	@printf '%s\n' \
	  "tend runs examples/hello/app.js as 2 workers sharing port $(PORT). Try, in another terminal:" \
	  "  curl http://127.0.0.1:$(PORT)/                 # which instance and pid answered" \
	  "  curl http://$(RUN_HTTP)/readyz       # readiness, as Kubernetes asks" \
	  "  curl http://$(RUN_HTTP)/metrics      # Prometheus" \
	  "  $(TEND) ctl --control unix:$(RUN_CONTROL) list" \
	  "  $(TEND) ctl --control unix:$(RUN_CONTROL) top      # live, like pm2 monit" \
	  "  $(TEND) ctl --control unix:$(RUN_CONTROL) logs -f  # like pm2 logs" \
	  "  $(TEND) ctl --control unix:$(RUN_CONTROL) reload   # rolling, no request lost" \
	  "Ctrl-C here stops everything."
	@PORT=$(PORT) exec $(TEND) -i 2 --http $(RUN_HTTP) --control unix:$(RUN_CONTROL) \
	  examples/hello/app.js

# Every unit test and fuzz target, then all of them again under ASan and UBSan, and those
# whose code crosses threads under TSan (these builds keep bazel-bin pointing at the
# optimised one).
TSAN_TESTS := //tests/runtime/loop:cross_thread_test //tests/runtime/http:server_test

unit-test: deps
	$(BAZEL) test $(BAZEL_FLAGS) //...
	$(BAZEL) test --config=asan //...
	$(BAZEL) test --config=tsan $(TSAN_TESTS)

# tend itself under ASan and UBSan, for an integration smoke run (built by `unit-test`).
TEND_ASAN = $(shell $(BAZEL) info --config=asan bazel-bin 2>/dev/null)/runtime/tend

integration-test: build $(NPM_TEST_PACKAGES)
	$(BAZEL) build --config=asan //runtime:tend
	TEND=$(CURDIR)/$(TEND) TEND_ASAN=$(TEND_ASAN) NODE_PATH=$(CURDIR)/.deps/npm/node_modules \
		$(PYTHON) -m pytest -q --durations=12 tests/integration

test: format-check unit-test integration-test

# The C++ as .clang-format says (Debian's clang-format); `clang-format -i FILE` mends a file.
format-check: apt-packages
	@git ls-files '*.cc' '*.h' | xargs clang-format --dry-run -Werror

# Debian's npm only where the installed nodejs brings none (NodeSource's package does).
NPM_INSTALL = command -v npm >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; \
	npm install --no-audit --no-fund --prefix .deps/npm

$(PM2_RUNTIME): | apt-packages
	$(NPM_INSTALL) pm2@$(PM2_VERSION)

$(NPM_TEST_PACKAGES): | apt-packages
	$(NPM_INSTALL) kubernetes-models@4.5.1 yaml@2.9.1 express@4.21.2 dotenv@16.4.5 prom-client@15.1.3
	touch $@

bench: build $(PM2_RUNTIME)
	TEND=$(CURDIR)/$(TEND) $(PYTHON) bench/idle.py
	TEND=$(CURDIR)/$(TEND) PM2_RUNTIME=$(CURDIR)/$(PM2_RUNTIME) $(PYTHON) bench/cluster.py
	TEND=$(CURDIR)/$(TEND) NODE_PATH=$(CURDIR)/.deps/npm/node_modules $(PYTHON) bench/scrape.py
	TEND=$(CURDIR)/$(TEND) $(PYTHON) bench/chaos.py
	TEND=$(CURDIR)/$(TEND) $(PYTHON) bench/hostile.py
	TEND=$(CURDIR)/$(TEND) PM2_RUNTIME=$(CURDIR)/$(PM2_RUNTIME) $(PYTHON) bench/balance.py
	TEND=$(CURDIR)/$(TEND) $(PYTHON) bench/healthcheck.py

clean:
	$(BAZEL) clean --expunge
	rm -rf .deps
