# vaekit — build, test, demo, install. See README.md.
# Programs are tools/*.c (one file each); libcommon/*.c is the shared library;
# tests/*.c are Criterion suites linked into one runner.

PREFIX ?= /usr/local
CC ?= cc
PKGS := openblas libpng zlib
# ARCH= (empty) builds for any x86-64, e.g. for valgrind, which lacks AVX-512.
ARCH ?= -march=native
OPT ?= -O3 -fopenmp-simd -fno-math-errno
CFLAGS ?= $(OPT) $(ARCH) -g
CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Ilibcommon $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lopenblas -lpng -lz) -lm -lpthread

# make MPI=1: vae-train trains data-parallel under mpirun (Open MPI).
ifeq ($(MPI),1)
CC := mpicc
CFLAGS += -DVK_MPI
endif

ifeq ($(SANITIZE),1)
CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
BUILD := build-san
else ifeq ($(MPI),1)
BUILD := build-mpi
else
BUILD := build
endif

TOOLS := $(sort $(basename $(notdir $(wildcard tools/*.c))))
BINS := $(addprefix $(BUILD)/bin/,$(TOOLS))
LIB_SRC := $(sort $(wildcard libcommon/*.c))
LIB_OBJ := $(patsubst libcommon/%.c,$(BUILD)/obj/%.o,$(LIB_SRC))
LIB := $(BUILD)/libcommon.a
TEST_SRC := $(sort $(wildcard tests/*.c))
TEST_BIN := $(BUILD)/test-runner
MANS := $(wildcard man/*.1 man/*.5)

.PHONY: all check check-san check-fault test demo install deps bench figures fuzz clean
all: $(BINS)

$(BUILD)/obj/%.o: libcommon/%.c libcommon/*.h | $(BUILD)/obj
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/bin/%: tools/%.c $(LIB) libcommon/*.h | $(BUILD)/bin
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(TEST_BIN): $(TEST_SRC) $(LIB) libcommon/*.h
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(TEST_SRC) $(LIB) $(LDLIBS) $(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion)

$(BUILD)/obj $(BUILD)/bin:
	mkdir -p $@

# The tests run the real programs from $(BUILD)/bin, found through PATH.
test: $(BINS) $(TEST_BIN)
	@if [ "$(SANITIZE)" != 1 ] && command -v mpicc >/dev/null; then $(MAKE) MPI=1 build-mpi/bin/vae-train; fi
	cd tests && PATH="$(CURDIR)/$(BUILD)/bin:$$PATH" VAEKIT_ROOT="$(CURDIR)" \
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
# shim), libfiu's failure points (fiu-utils), and a full disk.
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

bench: deps all
	sh bench/run.sh "$(CURDIR)/$(BUILD)/bin"

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(wildcard man/*.1) $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 $(wildcard man/*.5) $(DESTDIR)$(PREFIX)/share/man/man5
	install -d $(DESTDIR)$(PREFIX)/share/doc/vaekit
	install -m 644 formats/tensor-stream.md formats/model.md $(DESTDIR)$(PREFIX)/share/doc/vaekit
	install -m 644 examples/data/README.md $(DESTDIR)$(PREFIX)/share/doc/vaekit/data.md

clean:
	rm -rf build build-san build-mpi build-vg out fuzz/build
