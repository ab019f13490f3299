# Orderly front end. `make run` and `make test` are the two commands a new user needs.
SHELL := /bin/bash
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
DATA_DIR ?= .orderly
CTEST_ARGS ?=

# Debian packages the build, the tests and the benchmarks need.
APT_PACKAGES := build-essential cmake pkg-config git \
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev \
  libssl-dev libmbedtls-dev libsqlite3-dev sqlite3 libfmt-dev libcli11-dev libjwt-dev libexpected-dev \
  libgtest-dev libgmock-dev libbenchmark-dev librapidcheck-dev libtcmalloc-minimal4 \
  nats-server libnats-dev zip python3-botocore openssl \
  openjdk-17-jre-headless iproute2 clang libclang-rt-14-dev \
  chromium fonts-liberation

# Only the benchmarks' side-by-side peers.
BENCH_PACKAGES := wrk nginx-light python3

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build lambda test infra-test run bench clean format tidy asan tsan fuzz-build fuzz

all: build

# Idempotent: installs only what is missing.
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all Debian packages present"; fi
	@if [ -f package-lock.json ] && { [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; }; then npm ci --no-audit --no-fund; fi

$(BUILD_DIR)/CMakeCache.txt:
	cmake --preset release

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)
	@echo "built: $(BUILD_DIR)/bin/orderly"

# The five Lambda packages, build/lambda/<service>.zip (also made by build).
lambda: build
	@ls -l $(BUILD_DIR)/lambda/*.zip

test: build fuzz-build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)
	$(MAKE) infra-test

# The libFuzzer targets (tests/fuzz/): clang, ASan and UBSan, in build/fuzz/fuzz-bin.
fuzz-build: deps
	cmake --preset fuzz >/dev/null
	cmake --build build/fuzz -j $(JOBS) --target fuzz_all

# Each fuzz target for FUZZ_SECONDS (default 600); the executions go to bench/results.
FUZZ_SECONDS ?= 600
fuzz: fuzz-build
	bench/fuzz.sh $(FUZZ_SECONDS)

# The CDK app's tests (synth, cdk-nag, assertions); no AWS account needed.
infra-test:
	cd infra && { [ -f node_modules/.package-lock.json ] && [ ! package-lock.json -nt node_modules/.package-lock.json ] || npm ci --no-audit --no-fund; } && npm test

run: build
	$(BUILD_DIR)/bin/orderly up --data-dir $(DATA_DIR)

# The AWS-local twin of the Lambda build (tools/aws-local/, docs/operations.md): the stack
# the CDK app synthesizes, run on this machine with the real bootstraps. AWS_LOCAL_PORT (8080),
# AWS_LOCAL_ARGS (more options: node tools/aws-local/twin.mjs --help).
AWS_LOCAL_PORT ?= 8080
AWS_LOCAL_ARGS ?=
.PHONY: aws-local
aws-local: lambda
	cd infra && { [ -f node_modules/.package-lock.json ] && [ ! package-lock.json -nt node_modules/.package-lock.json ] || npm ci --no-audit --no-fund; }
	node tools/aws-local/twin.mjs --data-dir $(DATA_DIR) --port $(AWS_LOCAL_PORT) --lambda-dir $(BUILD_DIR)/lambda $(AWS_LOCAL_ARGS)

bench: build
	@missing=$$(for p in $(BENCH_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; fi
	bench/run.sh

asan:
	cmake --preset asan && cmake --build build/asan -j $(JOBS) && ctest --preset asan -j $(JOBS)

tsan:
	cmake --preset tsan && cmake --build build/tsan -j $(JOBS) && ctest --preset tsan -j $(JOBS)

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

tidy: $(BUILD_DIR)/CMakeCache.txt
	git ls-files '*.cpp' | grep -v _test.cpp | xargs clang-tidy -p $(BUILD_DIR) --quiet

clean:
	rm -rf $(BUILD_DIR)
