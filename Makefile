# stockx: a Lua 5.4 runtime for StockX automation.  `make`, `make test`,
# `make asan`, `make valgrind`, `make bench`, `make lint`.

PKGS     := lua5.4 libcurl libevent lua5.4-cjson
CC       ?= cc
WARN     := -Wall -Wextra -Wshadow -Wundef -Wwrite-strings \
            -Wmissing-prototypes -Wstrict-prototypes
OPT      ?= -O2
CFLAGS   ?= -g
CFLAGS   += $(OPT) -std=c11 -D_GNU_SOURCE $(WARN) $(SAN) $(EXTRA_CFLAGS) \
            -MMD -MP -I$(B) $(shell pkg-config --cflags $(PKGS))
LDFLAGS  += $(SAN)
# readline: its own .pc where it has one, else -lreadline
RLLIBS   := $(shell pkg-config --libs readline 2>/dev/null || echo -lreadline)
LDLIBS   += $(shell pkg-config --libs $(PKGS)) $(RLLIBS) -lm
B        := build
# The version: 0.1.0, plus `git describe` when built from a checkout.
GITDESC  := $(shell git describe --tags --always --dirty 2>/dev/null)
VERSION  := 0.1.0$(if $(GITDESC),+$(GITDESC))

# Layer 1: pure helpers (no Lua, no libevent, no curl).
PURE     := buf url retry limiter log time http json config
# Layer 2: event core.  Layer 3: Lua bindings (l*.c) and main.
CORE     := multi easy headers queue req client server
BIND     := lrt ltask ljson lrequest lconfig lstockx lserver lsandbox lembed lrepl main
SRCS     := $(PURE:%=src/sx_%.c) $(CORE:%=src/sx_%.c) $(BIND:%=src/%.c)
LUAS     := $(shell find lua -name '*.lua' | sort)

all: stockx

$(B)/%.o: src/%.c | $(B)
	$(CC) $(CFLAGS) -c -o $@ $<

# Rewritten only when the version changes, so nothing else rebuilds.
$(B)/version.h: FORCE | $(B)
	@echo '#define SX_VERSION "$(VERSION)"' > $@.tmp
	@cmp -s $@.tmp $@ || mv $@.tmp $@
	@rm -f $@.tmp

$(B)/lstockx.o $(B)/main.o: $(B)/version.h

$(B)/embed.c: $(LUAS) src/embed.sh | $(B)
	sh src/embed.sh $(LUAS) > $@

$(B)/embed.o: $(B)/embed.c
	$(CC) $(CFLAGS) -Isrc -c -o $@ $<

$(B):
	mkdir -p $(B)

OBJS := $(SRCS:src/%.c=$(B)/%.o) $(B)/embed.o

stockx: $(OBJS)
	$(CC) $(CFLAGS) -o $@ $(OBJS) $(LDFLAGS) $(LDLIBS)

-include $(OBJS:.o=.d) $(wildcard $(B)/unit/*.d)

# ---- tests ---------------------------------------------------------------
UNIT     := $(basename $(notdir $(wildcard tests/unit/test_*.c)))
PUREOBJ  := $(PURE:%=$(B)/sx_%.o)

$(B)/unit/%: tests/unit/%.c tests/unit/testhelp.h $(PUREOBJ)
	@mkdir -p $(B)/unit
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(PUREOBJ) -lm

unit: $(UNIT:%=$(B)/unit/%)

test: stockx unit
	sh tests/run.sh

asan:
	$(MAKE) B=build/asan OPT=-O1 SAN="-fsanitize=address,undefined,float-cast-overflow \
	    -fno-omit-frame-pointer -fno-sanitize-recover=all" stockx-asan

stockx-asan: $(OBJS)
	$(CC) $(CFLAGS) -o $@ $(OBJS) $(LDFLAGS) $(LDLIBS)

test-asan: asan unit
	STOCKX=./stockx-asan sh tests/run.sh

test-valgrind: stockx unit
	STOCKX_VALGRIND=1 sh tests/run.sh

valgrind: test-valgrind

bench: stockx
	sh tests/bench/run.sh

lint:
	luacheck --no-color lua scripts tests/lua tests/bench/get.lua \
	    tests/bench/tasks.lua tests/bench/quota.lua
	sh tests/lint.sh
	sh tests/lint.sh --self-test

clean:
	rm -rf build stockx stockx-asan

.PHONY: FORCE all unit test asan test-asan test-valgrind valgrind bench lint clean
