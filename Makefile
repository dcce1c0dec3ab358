# hb — one build for every tool.
#   make            build bin/* (installs missing Debian packages first, see `make deps`)
#   make test       build and run the unit + integration tests        (SAN=1: ASan+UBSan build)
#   make demo       run the main job on the bundled example
#   make bench      side-by-side benchmarks against the reference tools (needs the PyPI references)
#   make fuzz       libFuzzer harnesses tests/fuzz/fuzz_*.c built with clang into build-fuzz/fuzz/ (tests/fuzz/run.sh)
#   HB_CUDA=0/1     force the CUDA objects off/on (default: on when nvcc is found)

CC      ?= gcc
SAN     ?= 0
HB_CUDA ?= $(if $(shell command -v nvcc 2>/dev/null),1,0)

ifeq ($(SAN),1)
  BUILD  := build-san
  OPT    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDSAN  := -fsanitize=address,undefined
else ifeq ($(SAN),fuzz)
  BUILD  := build-fuzz
  OPT    := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
            -DHB_JSPLIT_CHUNK=7
  LDSAN  := -fsanitize=address,undefined
else
  BUILD  := build
  OPT    := -O2 -g
  LDSAN  :=
endif
BIN     := bin
ifeq ($(SAN),1)
  BIN   := build-san/bin
endif
ifeq ($(SAN),fuzz)
  BIN   := build-fuzz/bin
endif

PKGS    := libarchive libcjson libzstd libxxhash libpcre2-8 yaml-0.1 openblas libturbojpeg libjpeg libpng zlib
CFLAGS  += -std=c11 $(OPT) -Wall -Wextra -Werror -Wno-format-truncation -D_GNU_SOURCE -fopenmp -I. -Ilib -MMD -MP \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -I/usr/include/stb
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread
LDFLAGS += -fopenmp $(LDSAN)
ifeq ($(SAN),fuzz)
  CFLAGS += -Wno-unknown-warning-option -Wno-unknown-pragmas -Wno-pass-failed
endif

LIB_SRC  := $(sort $(wildcard lib/*/*.c lib/*/*/*.c model/*.c kernels/*.c kernels/cpu/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CMD_SRC  := $(sort $(wildcard cmd/*.c))
CMDS     := $(CMD_SRC:cmd/%.c=$(BIN)/%)
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TESTS    := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_HELPERS := $(sort $(wildcard tests/unit/helpers/*.c))
TEST_HOBJ := $(TEST_HELPERS:%.c=$(BUILD)/%.o)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZERS  := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/fuzz/%)
REPLAYS  := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz-replay/%)

ifeq ($(HB_CUDA),1)
  CU_SRC  := $(sort $(wildcard kernels/cuda/*.cu))
  CU_OBJ  := $(CU_SRC:%.cu=$(BUILD)/%.o)
  ifneq ($(CU_SRC),)
    CFLAGS += -DHB_CUDA=1 -I/usr/local/cuda/include
    LDLIBS += -L/usr/local/cuda/lib64 -lcudart -lcublasLt -lcublas
  endif
endif

# Quiet by default ("CC file"); V=1 prints the full commands.
ifeq ($(V),1)
  Q :=
  say = @true
else
  Q := @
  say = @printf '  %-5s %s\n' $(1) $(2)
endif

.PHONY: all deps test demo bench fuzz clean
.SECONDARY:
all: deps $(CMDS)

deps:
	@scripts/deps.sh

$(BUILD)/libhb.a: $(LIB_OBJ) $(CU_OBJ)
	@mkdir -p $(@D)
	@rm -f $@
	$(call say,AR,$@)
	$(Q)ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.cu
	@mkdir -p $(@D)
	$(call say,NVCC,$<)
	$(Q)nvcc -O2 -std=c++17 -I. -Ilib -arch=sm_90 -c $< -o $@

$(BIN)/%: $(BUILD)/cmd/%.o $(BUILD)/libhb.a
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $< $(BUILD)/libhb.a $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(TEST_HOBJ) $(BUILD)/libhb.a
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $< $(TEST_HOBJ) $(BUILD)/libhb.a $(LDLIBS) -lcriterion -o $@

test: deps $(CMDS) $(TESTS) $(REPLAYS)
	@HB_BIN=$(abspath $(BIN)) HB_BUILD=$(abspath $(BUILD)) tests/run.sh $(TESTS)

demo: deps $(CMDS)
	@scripts/demo.sh

bench: deps $(CMDS)
	@tests/bench/run.sh

# Harnesses link libFuzzer's main; the library objects carry its coverage instrumentation (SAN=fuzz, clang).
fuzz:
	@$(MAKE) --no-print-directory SAN=fuzz CC=clang HB_CUDA=0 fuzzers

fuzzers: $(FUZZERS)

build-fuzz/fuzz/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/libhb.a
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer $< $(BUILD)/libhb.a $(LDLIBS) -o $@

# The same harnesses with a plain main() (tests/fuzz/replay.c): make test replays the committed corpora with them.
$(BUILD)/fuzz-replay/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay.o $(BUILD)/libhb.a
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $< $(BUILD)/tests/fuzz/replay.o $(BUILD)/libhb.a $(LDLIBS) -o $@

clean:
	rm -rf build build-san build-fuzz bin

-include $(LIB_OBJ:.o=.d) $(CMD_SRC:cmd/%.c=$(BUILD)/cmd/%.d) $(TEST_SRC:%.c=$(BUILD)/%.d) $(TEST_HOBJ:.o=.d) \
         $(FUZZ_SRC:%.c=$(BUILD)/%.d) $(BUILD)/tests/fuzz/replay.d
