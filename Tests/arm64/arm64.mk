# ARM64 (NEON) cross build and test of CKernels, without SwiftPM (see Tests/arm64/README.md).
#
#   make test-arm64                          (with `include Tests/arm64/arm64.mk` in the Makefile)
#   make -f Tests/arm64/arm64.mk test-arm64  (alone)
#
# Run from the repository root (all paths are relative to it). Steps, one process at a time:
#   1. installs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user with apt-get when
#      aarch64-linux-gnu-gcc or qemu-aarch64 is missing;
#   2. compiles every CKernels .c file and Tests/arm64/driver.c with aarch64-linux-gnu-gcc into
#      .build/arm64/driver (again only when a source, a header or this file changed) and checks
#      that no x86 kernel made it into the binary;
#   3. compiles every CKernels .c file with the host compiler into .build/arm64/x86 and checks
#      that the NEON files define nothing there (the #if guards hold both ways);
#   4. runs the driver under qemu-aarch64: NEON against scalar on randomized cases, nonzero exit
#      status on any failure.
#

# Keep the including Makefile's default goal (restored at the end of this file).
ARM64_PREVIOUS_DEFAULT_GOAL := $(.DEFAULT_GOAL)

ARM64_CC = aarch64-linux-gnu-gcc
ARM64_NM = aarch64-linux-gnu-nm
ARM64_QEMU = qemu-aarch64
ARM64_SYSROOT = /usr/aarch64-linux-gnu
ARM64_HOST_CC = cc
ARM64_HOST_NM = nm
ARM64_PACKAGES = gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
ARM64_SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

ARM64_DIR = .build/arm64
ARM64_DRIVER = $(ARM64_DIR)/driver
ARM64_X86_STAMP = $(ARM64_DIR)/x86/guards.stamp
ARM64_DRIVER_SRC = Tests/arm64/driver.c
ARM64_SRCS := $(shell find CKernels -name '*.c' | sort)
ARM64_HDRS := $(shell find CKernels -name '*.h' | sort)

ARM64_CFLAGS = -std=c11 -O2 -DMK_NO_BLIS -I CKernels/include \
	-Wall -Werror -pthread
ARM64_LDLIBS = -pthread -lm
ARM64_HOST_CFLAGS = -std=c11 -O1 -DMK_NO_BLIS -I CKernels/include

# Shell snippet: install the cross toolchain and qemu when either tool is missing.
ARM64_ENSURE_TOOLCHAIN = \
	if command -v $(ARM64_CC) >/dev/null 2>&1 && command -v $(ARM64_QEMU) >/dev/null 2>&1; then \
	  :; \
	else \
	  echo "test-arm64: $(ARM64_CC) or $(ARM64_QEMU) missing: installing $(ARM64_PACKAGES)"; \
	  $(ARM64_SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(ARM64_SUDO) apt-get install -y $(ARM64_PACKAGES); \
	fi

.PHONY: test-arm64 arm64-toolchain

test-arm64: $(ARM64_DRIVER) $(ARM64_X86_STAMP)
	@$(ARM64_ENSURE_TOOLCHAIN)
	$(ARM64_QEMU) -cpu max -L $(ARM64_SYSROOT) $(ARM64_DRIVER)

arm64-toolchain:
	@$(ARM64_ENSURE_TOOLCHAIN)

$(ARM64_DRIVER): $(ARM64_SRCS) $(ARM64_HDRS) $(ARM64_DRIVER_SRC) Tests/arm64/arm64.mk
	@$(ARM64_ENSURE_TOOLCHAIN)
	@mkdir -p $(ARM64_DIR)
	@echo "test-arm64: $(ARM64_CC) $(ARM64_CFLAGS) (all CKernels sources + driver, two at a time)"
	@rm -rf $(ARM64_DIR)/obj && mkdir -p $(ARM64_DIR)/obj
	@printf '%s\n' $(ARM64_SRCS) $(ARM64_DRIVER_SRC) | xargs -P 2 -I{} sh -c \
	  '$(ARM64_CC) $(ARM64_CFLAGS) -c {} -o $(ARM64_DIR)/obj/$$(echo {} | sed "s|/|_|g; s|\.c$$|.o|")'
	@$(ARM64_CC) -pthread -o $@.tmp $(ARM64_DIR)/obj/*.o $(ARM64_LDLIBS)
	@if $(ARM64_NM) $@.tmp | grep -q '__avx'; then \
	  echo "test-arm64: x86 kernels were compiled into the aarch64 binary (#if guard broken):"; \
	  $(ARM64_NM) $@.tmp | grep '__avx'; rm -f $@.tmp; exit 1; \
	fi
	@if ! $(ARM64_NM) $@.tmp | grep -q '__neon'; then \
	  echo "test-arm64: no NEON kernel in the aarch64 binary"; rm -f $@.tmp; exit 1; \
	fi
	@mv $@.tmp $@

$(ARM64_X86_STAMP): $(ARM64_SRCS) $(ARM64_HDRS) Tests/arm64/arm64.mk
	@mkdir -p $(ARM64_DIR)/x86
	@echo "test-arm64: $(ARM64_HOST_CC) $(ARM64_HOST_CFLAGS) -c (each CKernels source, two at a time; x86 guard check)"
	@printf '%s\n' $(ARM64_SRCS) | xargs -P 2 -I{} sh -c \
	  '$(ARM64_HOST_CC) $(ARM64_HOST_CFLAGS) -c {} -o $(ARM64_DIR)/x86/$$(echo {} | sed "s|/|_|g; s|\.c$$|.o|")'
	@set -e; count=0; \
	for src in $(ARM64_SRCS); do \
	  obj=$(ARM64_DIR)/x86/`echo $$src | sed 's|/|_|g; s|\.c$$|.o|'`; \
	  case $$src in \
	    *_neon.c) if [ -n "`$(ARM64_HOST_NM) --defined-only $$obj`" ]; then \
	                echo "test-arm64: $$src defines symbols on x86 (#if guard broken)"; exit 1; \
	              fi ;; \
	  esac; \
	  count=`expr $$count + 1`; \
	done; \
	echo "test-arm64: x86 build ok ($$count files; NEON files empty)"
	@touch $@

.DEFAULT_GOAL := $(ARM64_PREVIOUS_DEFAULT_GOAL)
