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

POLICY_OBJ := $(POLICY_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ    := $(CLI_SRC:%.c=$(BUILD)/%.o)
RELAY_OBJ  := $(RELAY_SRC:%.c=$(BUILD)/%.o)
SHIM_OBJ   := $(SHIM_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HELPER_BIN := $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/helpers/%)

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

.PHONY: all tests check unit integration asan demo install clean deps bench fuzz
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

$(BUILD)/mtasts-relay: $(RELAY_OBJ) $(POLICY_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $(RELAY_OBJ) $(POLICY_LIB) $(PKG_LIBS) -lpthread

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

$(BUILD)/tests/helpers/%: tests/helpers/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS) -lpthread

tests: all $(UNIT_BIN) $(HELPER_BIN)

deps:
	@scripts/install-deps --ensure

# Unit tests need no network; integration tests build their own world.
check: deps
	@$(MAKE) --no-print-directory tests
	@$(MAKE) --no-print-directory unit integration

unit: tests
	@scripts/run-unit $(UNIT_BIN)

integration: tests
	@BUILD=$(abspath $(BUILD)) tests/integration/run

asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 check

demo: deps all
	@BUILD=$(abspath $(BUILD)) scripts/demo

bench: deps all
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
