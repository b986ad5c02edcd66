# vaekit — build, test, demo, install. See README.md.
# Programs are tools/*.c (one file each); libcommon/ is the shared library, one
# folder a floor (README, For developers), each importing only from below;
# tests/*.c are Criterion suites linked into one runner.

PREFIX ?= /usr/local
CC ?= cc
PKGS := openblas libpng zlib
# ARCH= (empty) builds for any x86-64, e.g. for valgrind, which lacks AVX-512;
# ARCH=-march=x86-64-v3 builds the AVX2 code (to measure it on an AVX-512 CPU).
# Each ARCH gets its own build directory (build-x86-64-v3, ...; build for
# native), so the variants never mix objects.
ARCH ?= -march=native
# make PORTABLE=1: a binary for any x86-64 (what a distribution ships), in
# build-portable: baseline code everywhere, and the hot kernels in nn.c (VK_HOT)
# compiled three times, for x86-64-v4 (AVX-512), x86-64-v3 (AVX2) and baseline,
# the best picked at load time from the CPU (gcc target_clones).
ifeq ($(PORTABLE),1)
ARCH := -march=x86-64 -mtune=generic
endif
OPT ?= -O3 -fopenmp-simd -fno-math-errno
CFLAGS ?= $(OPT) $(ARCH) -g
# The library's floors: base, io, nn, model, train, eval. Headers are named
# without their folder, so a unit can move floors without touching its users.
LIB_DIRS := libcommon $(sort $(patsubst %/,%,$(dir $(wildcard libcommon/*/*.c))))
LIB_INC := $(addprefix -I,$(LIB_DIRS))
LIB_HDR := $(wildcard $(addsuffix /*.h,$(LIB_DIRS)))
CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra $(LIB_INC) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
ifeq ($(PORTABLE),1)
CFLAGS += -DVK_PORTABLE
endif
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lopenblas -lpng -lz) -lm -lpthread
# libvips (image files in and out) is linked only into the programs that read or
# write image files, so the others start without loading it and glib.
VIPS_CFLAGS := $(shell pkg-config --cflags vips gmodule-2.0 2>/dev/null)
VIPS_LIBS := $(shell pkg-config --libs vips gmodule-2.0 2>/dev/null || echo -lvips -lgmodule-2.0 -lgobject-2.0 -lglib-2.0)
VIPS_TOOLS := img2stream stream2img

# make MPI=1: vae-train trains data-parallel under mpirun (Open MPI).
ifeq ($(MPI),1)
CC := mpicc
CFLAGS += -DVK_MPI
endif

# The build directory's suffix: none for the native default, -portable, or
# the -march value (-x86-64-v3), -generic for an empty ARCH.
MARCH := $(patsubst -march=%,%,$(filter -march=%,$(ARCH)))
ifeq ($(PORTABLE),1)
BUILD_TAG := -portable
else ifeq ($(strip $(ARCH)),-march=native)
BUILD_TAG :=
else
BUILD_TAG := -$(or $(MARCH),generic)
endif
ifeq ($(SANITIZE),1)
CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
BUILD := build-san$(BUILD_TAG)
else ifeq ($(MPI),1)
BUILD := build-mpi$(BUILD_TAG)
else
BUILD := build$(BUILD_TAG)
endif

TOOLS := $(sort $(basename $(notdir $(wildcard tools/*.c))))
BINS := $(addprefix $(BUILD)/bin/,$(TOOLS))
LIB_SRC := $(sort $(wildcard $(addsuffix /*.c,$(LIB_DIRS))))
LIB_OBJ := $(patsubst libcommon/%.c,$(BUILD)/obj/%.o,$(LIB_SRC))
LIB := $(BUILD)/libcommon.a
TEST_SRC := $(sort $(wildcard tests/*.c))
TEST_BIN := $(BUILD)/test-runner
MANS := $(wildcard man/*.1 man/*.5)

.PHONY: all check check-san check-fault test demo install deps bench figures fuzz clean vectorize-check
all: $(BINS)

$(BUILD)/obj/%.o: libcommon/%.c $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/io/vimage.o: CFLAGS += $(VIPS_CFLAGS)
$(addprefix $(BUILD)/bin/,$(VIPS_TOOLS)): LDLIBS += $(VIPS_LIBS)

$(LIB): $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/bin/%: tools/%.c $(LIB) $(LIB_HDR) | $(BUILD)/bin
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(TEST_BIN): $(TEST_SRC) $(LIB) $(LIB_HDR)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(TEST_SRC) $(LIB) $(LDLIBS) $(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion) $(shell pkg-config --libs libjpeg 2>/dev/null || echo -ljpeg)

$(BUILD)/bin:
	mkdir -p $@

# vk_reduce across MPI ranks, run by tests/test_reduce.c under mpirun (MPI=1).
$(BUILD)/reduce-probe: tests/mpi/reduce_probe.c tests/reduce_cases.h $(LIB) $(LIB_HDR)
	$(CC) $(CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# The tests run the real programs from $(BUILD)/bin, found through PATH.
test: $(BINS) $(TEST_BIN)
	@if [ "$(SANITIZE)" != 1 ] && command -v mpicc >/dev/null; then $(MAKE) MPI=1 build-mpi/bin/vae-train build-mpi/reduce-probe; fi
	cd tests && PATH="$(CURDIR)/$(BUILD)/bin:$$PATH" VAEKIT_ROOT="$(CURDIR)" \
		LSAN_OPTIONS=suppressions="$(CURDIR)/tests/lsan.supp" \
		timeout 1500 ../$(TEST_BIN) --jobs=2 2>&1

check: deps
	$(MAKE) all
	$(MAKE) test

# The same tests built with AddressSanitizer and UndefinedBehaviorSanitizer.
check-san: deps
	$(MAKE) SANITIZE=1 all
	$(MAKE) SANITIZE=1 test

# Injected I/O faults in every -o writer (tests/fault/run.sh): each call of
# fwrite, fflush, fclose, fsync, rename, ... failed in turn (our LD_PRELOAD
# shim), libfiu's failure points (fiu-utils), and a full disk; then the crash
# test (tests/fault/crash.sh): training killed at random and resumed.
check-fault: all
	$(CC) -O1 -g -shared -fPIC -o $(BUILD)/faultshim.so tests/fault/shim.c -ldl
	sh tests/fault/run.sh "$(CURDIR)/$(BUILD)/bin" "$(CURDIR)/$(BUILD)/faultshim.so"

# libFuzzer harnesses (clang), FUZZ_SECONDS each; crashes are kept for tests/corpus/.
FUZZ_SECONDS ?= 60
fuzz:
	sh fuzz/run.sh $(FUZZ_SECONDS)

deps:
	@sh examples/deps.sh

demo: deps
	$(MAKE) all
	$(MAKE) -C examples demo BIN="$(CURDIR)/$(BUILD)/bin"

figures: all
	$(MAKE) -C examples figures BIN="$(CURDIR)/$(BUILD)/bin"

# The bench measures this build, then the main rows and the model programs
# again with each build in BENCH_ARCHS (-march=... values, or PORTABLE=1):
# by default the AVX2 code and the portable binary.
BENCH_ARCHS ?= -march=x86-64-v3 PORTABLE=1
bench_make = $(if $(filter PORTABLE=1,$(1)),PORTABLE=1,ARCH=$(1))
bench_dir = $(if $(filter PORTABLE=1,$(1)),build-portable,build-$(patsubst -march=%,%,$(1)))
bench: deps all $(BUILD)/bin-bench/layer_bench
	$(foreach a,$(BENCH_ARCHS),$(MAKE) $(call bench_make,$(a)) all &&) true
	BENCH_ARCH="$(if $(filter 1,$(PORTABLE)),PORTABLE=1,$(ARCH))" \
	BENCH_ARCH_BINS="$(foreach a,$(filter-out $(if $(filter 1,$(PORTABLE)),PORTABLE=1,$(ARCH)),$(BENCH_ARCHS)),$(a)|$(CURDIR)/$(call bench_dir,$(a))/bin)" \
		sh bench/run.sh "$(CURDIR)/$(BUILD)/bin"

# Fails when gcc reports a loop marked /* hot */ in the hot units as not
# vectorised for AVX2 (x86-64-v3), AVX-512 (x86-64-v4) or baseline SSE2 (x86-64,
# the PORTABLE=1 fallback): bench/vectorize-check.sh.
VEC_UNITS ?= libcommon/nn/nn.c
VEC_MARCHS ?= x86-64-v3 x86-64-v4 x86-64
vectorize-check:
	sh bench/vectorize-check.sh "$(CC) $(OPT) -std=c11 -D_GNU_SOURCE $(LIB_INC) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)" "$(VEC_MARCHS)" $(VEC_UNITS)

# The conv kernels' micro-benchmark (not built by default): see bench/conv_bench.c.
$(BUILD)/bin-bench/conv_bench: bench/conv_bench.c $(LIB) $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# A layer list's training step, e.g. a conv with and without batch norm:
# see bench/layer_bench.c.
$(BUILD)/bin-bench/layer_bench: bench/layer_bench.c $(LIB) $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(wildcard man/*.1) $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 $(wildcard man/*.5) $(DESTDIR)$(PREFIX)/share/man/man5
	install -d $(DESTDIR)$(PREFIX)/share/doc/vaekit
	install -m 644 formats/tensor-stream.md formats/model.md formats/prior.md formats/factors.md $(DESTDIR)$(PREFIX)/share/doc/vaekit
	install -m 644 examples/data/README.md $(DESTDIR)$(PREFIX)/share/doc/vaekit/data.md

clean:
	rm -rf build build-* out fuzz/build
