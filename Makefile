# mtasts-shim: make | make check | make asan | make demo | make install | make clean
#
# Layout: policy/ -> build/libmtastspolicy.a (the RFC 8461 engine)
#         cli/    -> build/mtasts            (the command line)
#         relay/  -> build/mtasts-relay      (per-connection TLS relay)
#         shim/   -> build/libmtasts.so      (the preload library; no TLS)
#         tests/unit/test_*.c    -> build/tests/test_*     (Check)
#         tests/helpers/*.c      -> build/tests/helpers/*  (small test clients)

BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
SAN     ?=

BINDIR     = $(PREFIX)/bin
LIBDIR     = $(PREFIX)/lib/mtasts
LIBEXECDIR = $(PREFIX)/libexec/mtasts
MANDIR     = $(PREFIX)/share/man

PKGS := libcares libcurl openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

WARN    = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
          -Wmissing-prototypes -Wno-unused-parameter
HARDEN  = -fstack-protector-strong -fPIC
ifeq ($(SAN),)
OPT     = -O2 -D_FORTIFY_SOURCE=2
SANFLAGS =
else
OPT     = -O1 -fno-omit-frame-pointer
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all
endif
CFLAGS  ?= -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN) $(OPT) $(SANFLAGS) \
             -DMTS_RELAY_PATH='"$(LIBEXECDIR)/mtasts-relay"' $(CFLAGS)
ALL_LDFLAGS = -Wl,-z,relro,-z,now $(SANFLAGS) $(LDFLAGS)

POLICY_SRC := $(sort $(wildcard policy/*.c))
CLI_SRC    := $(sort $(wildcard cli/*.c))
RELAY_SRC  := $(sort $(wildcard relay/*.c))
SHIM_SRC   := $(sort $(wildcard shim/*.c))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
HELPER_SRC := $(sort $(wildcard tests/helpers/*.c))
BENCH_SRC  := $(sort $(wildcard bench/*.c))

POLICY_OBJ := $(POLICY_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ    := $(CLI_SRC:%.c=$(BUILD)/%.o)
RELAY_OBJ  := $(RELAY_SRC:%.c=$(BUILD)/%.o)
SHIM_OBJ   := $(SHIM_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HELPER_BIN := $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/helpers/%)
BENCH_BIN  := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

POLICY_LIB := $(BUILD)/libmtastspolicy.a
TARGETS := $(POLICY_LIB)
ifneq ($(CLI_SRC),)
TARGETS += $(BUILD)/mtasts
endif
ifneq ($(RELAY_SRC),)
TARGETS += $(BUILD)/mtasts-relay
endif
ifneq ($(SHIM_SRC),)
TARGETS += $(BUILD)/libmtasts.so
endif

.PHONY: all tests check unit integration asan demo install clean deps bench fuzz \
        fuzz-smoke tsan tsan-build
.DELETE_ON_ERROR:

all: $(TARGETS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ipolicy $(PKG_CFLAGS) -MMD -MP -c $< -o $@

# The shim must not depend on OpenSSL, c-ares or libcurl headers or libs.
$(BUILD)/shim/%.o: shim/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fvisibility=hidden -MMD -MP -c $< -o $@

$(POLICY_LIB): $(POLICY_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/mtasts: $(CLI_OBJ) $(POLICY_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJ) $(POLICY_LIB) $(PKG_LIBS) -lpthread

# The relay does not link libcurl: policy/fetch.c dlopen()s it on the first
# real fetch, so that a warm-cache relay (one per connection) never maps its
# ~30 libraries (docs/PERFORMANCE.md). Only fetch.o may call libcurl in the
# relay: a link error naming curl_* means another object started to.
RELAY_LIBS := $(shell pkg-config --libs libcares openssl 2>/dev/null) \
              -Wl,--push-state,--as-needed -ldl -Wl,--pop-state
$(BUILD)/mtasts-relay: $(RELAY_OBJ) $(POLICY_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $(RELAY_OBJ) $(POLICY_LIB) $(RELAY_LIBS) -lpthread

$(BUILD)/libmtasts.so: $(SHIM_OBJ)
	$(CC) $(ALL_LDFLAGS) -shared -Wl,--version-script=shim/exports.map \
	  -o $@ $(SHIM_OBJ) -ldl -lpthread

$(BUILD)/tests/%: tests/unit/%.c $(POLICY_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) $(CHECK_CFLAGS) -Ipolicy -o $@ $< \
	  $(ALL_LDFLAGS) $(POLICY_LIB) $(PKG_LIBS) $(CHECK_LIBS) -lpthread

# Helpers that call the policy engine (tests/helpers/report_*.c) link it.
$(BUILD)/tests/helpers/report_%: tests/helpers/report_%.c $(POLICY_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -Ipolicy -o $@ $< \
	  $(ALL_LDFLAGS) $(POLICY_LIB) $(PKG_LIBS) -lpthread

$(BUILD)/tests/helpers/%: tests/helpers/%.c $(wildcard tests/helpers/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS) -lpthread

tests: all $(UNIT_BIN) $(HELPER_BIN)

deps:
	@scripts/install-deps --ensure

# Unit tests need no network; integration tests build their own world.
check: deps
	@$(MAKE) --no-print-directory tests
	$(if $(SAN),,@$(MAKE) --no-print-directory tsan-build)
	@$(MAKE) --no-print-directory unit integration
	$(if $(SAN),,@$(MAKE) --no-print-directory fuzz-smoke)

unit: tests
	@scripts/run-unit $(UNIT_BIN)

integration: tests
	@BUILD=$(abspath $(BUILD)) tests/integration/run

asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 check

# Fuzzing (fuzz/README.md): fuzz/run builds fuzz/fuzz_*.c with clang,
# libFuzzer, ASan and UBSan in its own $(BUILD)/fuzz (calling back into
# this Makefile) and runs each target. `make check` runs the short smoke (the
# fuzzers are sanitizer builds already, so `make asan` skips it).
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 4
FUZZ_SRC   := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_EXTRA := $(patsubst %.c,$(BUILD)/%.o,$(wildcard relay/smtp.c \
              relay/wait.c relay/smtpstream.c shim/dnsmsg.c))

fuzz: deps
	@MAKE="$(MAKE)" FUZZ_BUILD=$(BUILD)/fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) \
	  fuzz/run

fuzz-smoke:
	@MAKE="$(MAKE)" FUZZ_BUILD=$(BUILD)/fuzz \
	  FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) fuzz/run

$(BUILD)/fuzz/%.o: fuzz/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ipolicy -Irelay -Ishim $(PKG_CFLAGS) -MMD -MP \
	  -c $< -o $@

$(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/fuzz_%.o $(FUZZ_EXTRA) $(POLICY_LIB)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_EXTRA) \
	  $(POLICY_LIB) $(PKG_LIBS) -lpthread

-include $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%.d)

# ThreadSanitizer: the shim and its threaded test client, built by clang
# with -fsanitize=thread in $(BUILD)/tsan, then the shim's threaded
# integration test (t_tsan_shim.sh, which `make check` runs too; it skips
# when $(BUILD)/tsan is absent, e.g. in `make asan`). tests/tsan/clone_passthrough.c keeps TSan's
# clone() interceptor away from the shim's CLONE_VM relay spawn.
TSAN_DIR   ?= $(BUILD)/tsan
TSAN_FLAGS := -g -fsanitize=thread
TSAN_BINS  := $(TSAN_DIR)/libmtasts.so $(TSAN_DIR)/tests/helpers/shim_client \
              $(TSAN_DIR)/tests/helpers/shim_fake_relay \
              $(TSAN_DIR)/tests/helpers/shim_smtp_sink

tsan: deps tsan-build
	@BUILD=$(abspath $(TSAN_DIR)) tests/integration/run t_tsan_shim

tsan-build:
	@$(MAKE) --no-print-directory -s BUILD=$(TSAN_DIR) TSAN_DIR=$(TSAN_DIR) \
	  CC=clang CFLAGS="$(TSAN_FLAGS)" LDFLAGS="-fsanitize=thread" $(TSAN_BINS)

# The client has the shim's objects linked in (no LD_PRELOAD: TSan's
# symbolizer and every helper process would inherit it).
$(TSAN_DIR)/tests/helpers/shim_client: tests/helpers/shim_client.c \
                                       tests/tsan/clone_passthrough.c \
                                       $(SHIM_SRC:%.c=$(TSAN_DIR)/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) -ldl -lpthread

demo: deps all
	@BUILD=$(abspath $(BUILD)) scripts/demo

# bench/policy_*.c call the policy engine; the other benchmarks link nothing.
$(BUILD)/bench/policy_%: bench/policy_%.c $(POLICY_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -Ipolicy -o $@ $< \
	  $(ALL_LDFLAGS) $(POLICY_LIB) $(PKG_LIBS) -lpthread

$(BUILD)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS)

# BENCH_QUICK=1 for a short smoke run; bench/run SECTION... for one part.
bench: deps all $(BENCH_BIN) $(BUILD)/tests/helpers/relay_drive
	@BUILD=$(abspath $(BUILD)) bench/run

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	install -m 0755 $(BUILD)/mtasts $(DESTDIR)$(BINDIR)/mtasts
	install -m 0644 man/mtasts.1 $(DESTDIR)$(MANDIR)/man1/mtasts.1
	if [ -f $(BUILD)/libmtasts.so ]; then \
	  install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBEXECDIR) && \
	  install -m 0644 $(BUILD)/libmtasts.so $(DESTDIR)$(LIBDIR)/libmtasts.so && \
	  install -m 0755 $(BUILD)/mtasts-relay $(DESTDIR)$(LIBEXECDIR)/mtasts-relay && \
	  sed -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' \
	    scripts/mtasts-wrap > $(DESTDIR)$(BINDIR)/mtasts-wrap && \
	  chmod 0755 $(DESTDIR)$(BINDIR)/mtasts-wrap && \
	  install -m 0644 man/mtasts-wrap.1 $(DESTDIR)$(MANDIR)/man1/mtasts-wrap.1 && \
	  install -m 0644 man/mtasts.7 $(DESTDIR)$(MANDIR)/man7/mtasts.7; \
	fi

clean:
	rm -rf build

-include $(POLICY_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(RELAY_OBJ:.o=.d) $(SHIM_OBJ:.o=.d)
