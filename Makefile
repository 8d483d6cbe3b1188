# cvnets — one entry point.  See README.md.
#   make              host (build/bin/cvnets) + every plugin (build/lib/cvnets/plugins/)
#   make check        deps + build + all tests + the ASan/UBSan build of the tests
#   make train        deps + build + the default recipe
#   make install PREFIX=DIR
#   make CUDA=1       also the CUDA backend and the NCCL comm
#   make deps         Debian packages the project needs (idempotent)
#   make bench-deps   the PyTorch peer for bench/ (not needed to use cvnets)
#
# Plugins are discovered: plugins/<kinds>/<name>.c or plugins/<kinds>/<name>/*.c
# becomes cvnets-<kind>-<name>.so.  A plugin that needs libraries or flags puts
# them in plugins/<kinds>/<name>.mk as LIBS_<kind>-<name> / CFLAGS_<kind>-<name>.
# Tests are discovered: every test/unit/*.c is one Criterion executable.

CC      ?= gcc
CUDA    ?= 0
SAN     ?= 0
PREFIX  ?= /usr/local
NVCC    ?= /usr/local/cuda/bin/nvcc
CUDA_HOME ?= /usr/local/cuda
# Hopper (H200) native code plus PTX for anything newer
NVCC_ARCH ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90

ifeq ($(SAN),1)
BUILD   ?= build/asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT     := -O1 -g
else
BUILD   ?= build
SANFLAGS :=
OPT     := -O2 -g
endif

WARN    := -Wall -Wextra -Werror -Wno-unused-parameter
CSTD    := -std=c11 -D_GNU_SOURCE
CFLAGS_COMMON := $(CSTD) $(OPT) $(WARN) $(SANFLAGS) -Isdk/include -Icore -pthread
HOST_LIBS := -linih -lstb -lz -ldl -lm -pthread

# ---- discovery -------------------------------------------------------------------
kind_of = $(patsubst %es,%,$(filter losses,$(1)))$(patsubst %s,%,$(filter-out losses,$(1)))
CORE_SRC  := $(filter-out core/main.c,$(wildcard core/*.c core/*/*.c))
SDK_SRC   := $(wildcard sdk/lib/*.c)
PLUGIN_KINDS := backends comms models datasets transforms samplers losses optimizers schedulers metrics
CUDA_ONLY := backends/cuda comms/nccl
# every plugin as kinds/name
PLUGINS_ALL := $(sort $(foreach k,$(PLUGIN_KINDS),\
                 $(patsubst plugins/%.c,%,$(wildcard plugins/$(k)/*.c)) \
                 $(patsubst plugins/%/,%,$(dir $(wildcard plugins/$(k)/*/*.c) $(wildcard plugins/$(k)/*/*.cu)))))
ifeq ($(CUDA),1)
PLUGINS := $(PLUGINS_ALL)
else
PLUGINS := $(filter-out $(CUDA_ONLY),$(PLUGINS_ALL))
endif
plugin_so = $(BUILD)/lib/cvnets/plugins/cvnets-$(call kind_of,$(firstword $(subst /, ,$(1))))-$(lastword $(subst /, ,$(1))).so
PLUGIN_SOS := $(foreach p,$(PLUGINS),$(call plugin_so,$(p)))
TESTS := $(patsubst test/unit/%.c,$(BUILD)/test/%,$(wildcard test/unit/*.c))
TEST_SUPPORT := $(wildcard test/support/*.c)

-include $(wildcard plugins/*/*.mk)

# keep object files of test binaries (otherwise make deletes them as intermediates)
.SECONDARY:

.PHONY: all check check-cuda check-clang test test-asan train install deps bench-deps clean fixtures abi-check
all: $(BUILD)/bin/cvnets $(PLUGIN_SOS) $(BUILD)/lib/libcvnets-sdk.a

# ---- host -------------------------------------------------------------------------
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -MMD -MP -c $< -o $@

CORE_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(CORE_SRC))
$(BUILD)/lib/libcvnets-core.a: $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/cvnets: $(BUILD)/obj/core/main.o $(BUILD)/lib/libcvnets-core.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -rdynamic -o $@ $^ $(HOST_LIBS)

# ---- SDK helper library (static, PIC, linked into plugins) ----------------------------
$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -fPIC -fvisibility=hidden -MMD -MP -c $< -o $@
SDK_OBJ := $(patsubst %.c,$(BUILD)/pic/%.o,$(SDK_SRC))
$(BUILD)/lib/libcvnets-sdk.a: $(SDK_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# ---- plugins ------------------------------------------------------------------------
# $(1) = kinds/name
define PLUGIN_RULE
$(1)_KIND := $(call kind_of,$(firstword $(subst /, ,$(1))))
$(1)_NAME := $(lastword $(subst /, ,$(1)))
$(1)_SRC  := $(wildcard plugins/$(1).c plugins/$(1)/*.c)
$(1)_CU   := $(wildcard plugins/$(1)/*.cu)
$(1)_OBJ  := $$(patsubst %.c,$(BUILD)/pic/%.o,$$($(1)_SRC)) $$(patsubst %.cu,$(BUILD)/cu/%.o,$$($(1)_CU))
$(call plugin_so,$(1)): $$($(1)_OBJ) $(BUILD)/lib/libcvnets-sdk.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(CFLAGS_COMMON) -shared -fvisibility=hidden -Wl,-z,defs -o $$@ $$($(1)_OBJ) \
	  $(BUILD)/lib/libcvnets-sdk.a $$(LIBS_$$($(1)_KIND)-$$($(1)_NAME)) -lm -pthread
$$(patsubst %.c,$(BUILD)/pic/%.o,$$($(1)_SRC)): CFLAGS_COMMON += $$(CFLAGS_$$($(1)_KIND)-$$($(1)_NAME))
endef
$(foreach p,$(PLUGINS),$(eval $(call PLUGIN_RULE,$(p))))

$(BUILD)/cu/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) -O2 -std=c++17 -MMD -MP $(NVCC_ARCH) -Xcompiler -fPIC,-fvisibility=hidden -Isdk/include -c $< -o $@

# ---- tests ---------------------------------------------------------------------------
# Fixture plugins (deliberately bad ones, and frozen_* built against the frozen v1.0
# headers in test/abi/v1.0/include) are built outside the plugin folder.
FIXTURES := $(patsubst test/fixtures/plugins/%.c,$(BUILD)/test/fixtures/%.so,$(wildcard test/fixtures/plugins/*.c))
FIXTURE_FLAGS = $(CSTD) $(OPT) $(WARN) $(SANFLAGS) -fPIC -shared -fvisibility=hidden -Wl,-z,defs
$(BUILD)/test/fixtures/frozen_%.so: test/fixtures/plugins/frozen_%.c
	@mkdir -p $(dir $@)
	$(CC) $(FIXTURE_FLAGS) -Itest/abi/v1.0/include -o $@ $< -lm
$(BUILD)/test/fixtures/%.so: test/fixtures/plugins/%.c $(wildcard sdk/include/cvnets/*.h test/fixtures/plugins/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(FIXTURE_FLAGS) -Isdk/include -o $@ $< -lm
TEST_SUPPORT_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(TEST_SUPPORT))
$(BUILD)/test/%: $(BUILD)/obj/test/unit/%.o $(TEST_SUPPORT_OBJ) $(BUILD)/lib/libcvnets-core.a | $(FIXTURES)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -rdynamic -o $@ $^ -lcriterion $(HOST_LIBS)
$(BUILD)/obj/test/%.o: CFLAGS_COMMON += -Itest -Wno-missing-field-initializers

# Test environment: where the built tree lives, for tests that load plugins or run the CLI.
TEST_ENV := CVNETS_BUILD=$(abspath $(BUILD)) CVNETS_SRC=$(abspath .) \
            ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
            LSAN_OPTIONS=suppressions=$(abspath test/lsan.supp):print_suppressions=0:use_tls=0 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
test: all $(TESTS) $(FIXTURES)
	@bash test/run_tests.sh $(BUILD) "$(TEST_ENV)" $(TESTS)

test-asan:
	$(MAKE) SAN=1 test

# clang must build the whole tree warning-free too (compile only; gcc's build is tested)
check-clang:
	$(MAKE) CC=clang BUILD=build/clang all

# the CUDA backend and NCCL comm must compile and link wherever nvcc is installed
# (their tests skip without a device)
check-cuda:
	@if [ -x $(NVCC) ]; then $(MAKE) CUDA=1 all; else echo "nvcc not found at $(NVCC): CUDA plugins not built"; fi

check: deps
	$(MAKE) all
	$(MAKE) check-cuda
	$(MAKE) check-clang
	$(MAKE) test
	bash test/gpu/emulate.sh
	$(MAKE) SAN=1 test

train: deps all
	$(BUILD)/bin/cvnets train recipes/fashion_mnist.ini

# ---- install -----------------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/cvnets/plugins \
	  $(DESTDIR)$(PREFIX)/include/cvnets $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BUILD)/bin/cvnets $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(PLUGIN_SOS) $(DESTDIR)$(PREFIX)/lib/cvnets/plugins/
	install -m 644 sdk/include/cvnets/*.h $(DESTDIR)$(PREFIX)/include/cvnets/
	install -m 644 $(BUILD)/lib/libcvnets-sdk.a $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|g' sdk/cvnets-plugin.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/cvnets-plugin.pc

# ---- dependencies ---------------------------------------------------------------------------
DEB_PACKAGES := build-essential clang pkg-config libinih-dev zlib1g-dev libdnnl-dev libstb-dev \
  libcriterion-dev dataset-fashion-mnist libopenmpi-dev openmpi-bin binutils
deps:
	@bash tools/deps.sh $(DEB_PACKAGES)
bench-deps:
	@bash tools/deps.sh python3-torch python3-torchvision jq time

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj $(BUILD)/pic $(BUILD)/cu -name '*.d' 2>/dev/null)
