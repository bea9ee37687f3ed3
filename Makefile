# MobileKernels: the two commands are `make bench` and `make test`.
SWIFT ?= swift
# Optimize the C kernels in test builds too (SwiftPM compiles C at -O0 in debug builds).
TEST_FLAGS ?= -Xcc -O2
# Under AddressSanitizer: oversized allocations return NULL (the tests check that they become
# clear errors) instead of aborting; LeakSanitizer ignores XCTest's own leaks.
ASAN_OPTIONS := allocator_may_return_null=1
LSAN_OPTIONS := suppressions=$(CURDIR)/Tests/lsan.supp
# Under AddressSanitizer, skip the tests whose time is naive Swift only: the reference VGG16 (a
# quarter of make test's time; the VGG16 kernels run under it in the layer and plan tests), the
# training oracle's whole-network gradients (its layers' tests run under it) and the training
# plan's comparison with that oracle (its kernels' tests run under it), and int8 AlexNet against
# the int8 reference graph (its int8 kernels run under it in the other int8 tests). All run
# without the sanitizer.
ASAN_SKIP ?= --skip 'NetworkTests/vgg16|TrainingReferenceTests|TrainingPlanTests|QuantizedNetworkTests/alexnet'

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps data bench test bench-smoke example side-by-side clean

# Installs Debian's libblis-dev (BLIS with its CBLAS header) when <cblas.h> or libblis is missing,
# and zlib1g-dev (the data sets' .gz files) when <zlib.h> or libz is.
deps:
	@if printf '#include <cblas.h>\nint main(void){return cblas_sgemm == 0;}\n' \
	    | cc -x c - -lblis -o /dev/null >/dev/null 2>&1; then \
	  echo "deps: libblis-dev is installed"; \
	else \
	  echo "deps: <cblas.h>/libblis not found: installing libblis-dev with apt-get"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq libblis-dev; \
	fi
	@if printf '#include <zlib.h>\nint main(void){return inflateEnd(0) == 0;}\n' \
	    | cc -x c - -lz -o /dev/null >/dev/null 2>&1; then \
	  echo "deps: zlib1g-dev is installed"; \
	else \
	  echo "deps: <zlib.h>/libz not found: installing zlib1g-dev with apt-get"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq zlib1g-dev; \
	fi

# Fashion-MNIST as Debian ships it (dataset-fashion-mnist: the .gz files in
# /usr/share/datasets/fashion-mnist), for training and for the reader's test on the real files.
data:
	@if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then \
	  echo "data: Fashion-MNIST is installed"; \
	else \
	  echo "data: installing dataset-fashion-mnist with apt-get"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq dataset-fashion-mnist; \
	fi

bench: deps
	$(SWIFT) run -c release benchmarks

# (No separate `swift build`: the test build compiles every target, and `make example` builds the
# package as a dependency with the default flags.)
test: deps data
	$(SWIFT) test $(TEST_FLAGS)
	ASAN_OPTIONS=$(ASAN_OPTIONS) LSAN_OPTIONS=$(LSAN_OPTIONS) $(SWIFT) test --sanitize=address $(TEST_FLAGS) $(ASAN_SKIP)
	$(MAKE) example
	$(MAKE) bench-smoke
	$(MAKE) test-arm64
	$(MAKE) fuzz-smoke

# The harness end to end in seconds: tiny shapes, every case verified against the reference
# (the command fails on any FAILED row), JSON checked for one verified row per case x variant x
# thread count; then no heap allocation in a planned training step or inference of any model, the
# weights of VGG16 resident once after loading them from a file (`benchmarks memory`), and
# VGG16's and AlexNet's gradients against the training oracle (too slow for a debug test build),
# and one training step of each model.
bench-smoke:
	$(SWIFT) run -c release benchmarks kernels --quick --threads 1,2 --json .build/bench-smoke.json --svg .build/bench-smoke.svg > .build/bench-smoke.txt
	python3 -c "import json,sys; d=json.load(open('.build/bench-smoke.json')); rows=[r for r in d['rows'] if r['variant']!='reference']; bad=[r for r in rows if not r['verified']]; print('bench-smoke: %d rows, %d unverified' % (len(rows), len(bad))); sys.exit(1 if bad or not rows else 0)"
	$(SWIFT) run -c release benchmarks allocations
	$(SWIFT) run -c release benchmarks memory
	$(SWIFT) run -c release benchmarks gradients
	$(SWIFT) run -c release benchmarks train --quick

# A separate package that depends on this one by path: proves the products work as a dependency
# (and that the README's usage example, which is its main.swift, compiles and runs).
example:
	cd Examples/Consumer && $(SWIFT) run

# Whole networks against ONNX Runtime and OpenVINO on this machine, with the targets checked
# (Benchmarks/onnxruntime/README.md; needs the pip packages it names). SIDE_BY_SIDE_ARGS passes
# options, e.g. make side-by-side SIDE_BY_SIDE_ARGS='--models vgg16 --threads 1'.
side-by-side: deps
	$(SWIFT) build -c release --product mobilekernels
	python3 Benchmarks/onnxruntime/side_by_side.py --binary .build/release/mobilekernels $(SIDE_BY_SIDE_ARGS)

clean:
	rm -rf .build .build-fuzz Examples/Consumer/.build

# ARM64: NEON kernels cross-compiled and tested against scalar under qemu (Tests/arm64/README.md).
include Tests/arm64/arm64.mk

# Fuzzing of the weight-file readers with libFuzzer: make fuzz | make fuzz-smoke (Tests/Fuzz/fuzz.mk).
include Tests/Fuzz/fuzz.mk

