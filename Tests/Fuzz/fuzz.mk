# Coverage-guided fuzzing (libFuzzer) of the weight-file readers: SafeTensorsFile(data:), the
# strict JSON header parser and Npy.read(data:), all in one binary, weights-fuzz (the executable
# target in Tests/Fuzz/WeightsFuzz, which also explains its invariants).
#
#   make fuzz                      each target for FUZZ_SECONDS (60) seconds
#   make fuzz FUZZ_SECONDS=600 FUZZ_TARGETS=json
#   make fuzz-smoke                each target for FUZZ_SMOKE_SECONDS (10) seconds; part of make test
#   make -f Tests/Fuzz/fuzz.mk fuzz   (alone)
#
# The build adds the fuzzer on the command line, never in Package.swift: the plain
# `swift build` makes the same executable as a crash reproducer, and libFuzzer's driver is found
# at run time (exported with --export-dynamic-symbol). Everything goes under .build-fuzz/: the
# build, corpus/<target>/ (seeded with valid files our writers make, then grown by libFuzzer),
# crashes/<target>-crash-<sha1> and logs/<target>.log. Both goals fail on any crash; to replay
# one: .build-fuzz/debug/weights-fuzz --target=<target> .build-fuzz/crashes/<file> (or the plain
# build's .build/debug/weights-fuzz). Swift's own backtracer is off while fuzzing: it trips
# AddressSanitizer, which would hide the real report.

# Keep the including Makefile's default goal (restored at the end of this file).
FUZZ_PREVIOUS_DEFAULT_GOAL := $(.DEFAULT_GOAL)

SWIFT ?= swift
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_TARGETS ?= safetensors json npy
FUZZ_DIR = .build-fuzz
FUZZ_BIN = $(FUZZ_DIR)/debug/weights-fuzz
FUZZ_BUILD_FLAGS = -c debug -Xswiftc -sanitize=fuzzer,address \
	-Xlinker --export-dynamic-symbol=LLVMFuzzerRunDriver --scratch-path $(FUZZ_DIR)

.PHONY: fuzz fuzz-smoke fuzz-build

fuzz-build:
	$(SWIFT) build $(FUZZ_BUILD_FLAGS) --product weights-fuzz

# $(call FUZZ_RUN,seconds): each target for that long, one line per target with its executions
# and its crash, if any; fails when a target crashed.
define FUZZ_RUN
	@mkdir -p $(FUZZ_DIR)/crashes $(FUZZ_DIR)/logs
	@failed=""; \
	for t in $(FUZZ_TARGETS); do \
	  case $$t in npy) dict=npy;; *) dict=json;; esac; \
	  log=$(FUZZ_DIR)/logs/$$t.log; \
	  echo "fuzz: $$t for $(1) s (log: $$log)"; \
	  SWIFT_BACKTRACE=enable=no $(FUZZ_BIN) --target=$$t --seeds=$(FUZZ_DIR)/corpus/$$t -dict=Tests/Fuzz/$$dict.dict \
	    -max_total_time=$(1) -timeout=10 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/crashes/$$t- \
	    $(FUZZ_DIR)/corpus/$$t > $$log 2>&1; \
	  status=$$?; \
	  runs=`sed -n 's/^stat::number_of_executed_units: *//p' $$log`; \
	  if [ $$status -eq 0 ]; then \
	    echo "fuzz: $$t: $${runs:-?} executions, 0 crashes"; \
	  else \
	    echo "fuzz: $$t: CRASH (exit status $$status) after $${runs:-?} executions"; \
	    grep -E 'ERROR|error:|failed:|Test unit written' $$log | head -n 5; \
	    failed="$$failed $$t"; \
	  fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: crashed:$$failed"; exit 1; fi
endef

fuzz: fuzz-build
	$(call FUZZ_RUN,$(FUZZ_SECONDS))

fuzz-smoke: fuzz-build
	$(call FUZZ_RUN,$(FUZZ_SMOKE_SECONDS))

.DEFAULT_GOAL := $(FUZZ_PREVIOUS_DEFAULT_GOAL)
