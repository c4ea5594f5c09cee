# Thin wrapper over CMake. `make` builds build/minispark; `make run` and
# `make test` first install whatever Debian packages are missing.

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
DATASET    := datasets/big_events_50k.csv

.PHONY: all build setup setup-test setup-bench run test unit-asan bench chaos \
        fuzz format format-check clean

all: build

setup:
	@sh scripts/setup.sh

setup-test:
	@sh scripts/setup.sh test

setup-bench:
	@sh scripts/setup.sh bench

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

$(DATASET): | build
	$(BUILD)/minispark gen --rows 50000 $@

run: setup build $(DATASET)
	$(BUILD)/minispark run examples/agg.json

unit-asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug \
	    -DMS_SANITIZE=address,undefined >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest -L 'unit|sanitize' --output-on-failure

test: setup-test build $(DATASET) format-check
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory unit-asan

bench: setup-bench build $(DATASET)
	sh bench/run.sh $(BUILD)/minispark
	$(BUILD)/minispark bench scan bench/data/events_20000000.csv
	$(BUILD)/minispark bench shuffle --codec none
	$(BUILD)/minispark bench shuffle --codec zlib --level 1
	$(BUILD)/minispark bench shuffle --codec zlib --level 6
	$(BUILD)/minispark bench shuffle --codec lz4
	python3 bench/rss.py $(BUILD)/minispark bench/data/q1_20000000.json bench/data/q1_rss.csv
	python3 bench/rss.py $(BUILD)/minispark bench/q2.json bench/data/q2.csv --conf spark.io.compression.codec=lz4
	python3 bench/rss.py $(BUILD)/minispark bench/q2.json bench/data/q2_spilled.csv --conf spark.io.compression.codec=lz4 --conf spark.executor.memory=32m
	cmp bench/data/q2.csv bench/data/q2_spilled.csv
	cd bench && npm install --no-audit --no-fund --silent
	node bench/compare.mjs $(BUILD)/minispark bench/data/events_20000000.csv 5
	python3 bench/dynalloc.py $(BUILD)/minispark
	python3 bench/decommission.py $(BUILD)/minispark
	python3 bench/fairness.py $(BUILD)/minispark --runs 3

# The chaos test of `make test`, for ten minutes (MS_CHAOS_SECONDS).
chaos: setup-test build
	MS_CHAOS_SECONDS=$${MS_CHAOS_SECONDS:-600} MINISPARK_TESTING=1 \
	    python3 tests/integration/test_chaos.py $(CURDIR)/$(BUILD)/minispark

fuzz:
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DMS_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	@echo "fuzzers in build-fuzz/tests: run e.g. build-fuzz/tests/fuzz_csv tests/fuzz/corpus/csv"

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# The committed .clang-format is the house layout; CI refuses drift.
format-check:
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
