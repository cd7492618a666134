# stockx: a Lua 5.4 runtime for StockX automation.  `make` (the binary and
# its man page), `make test`, `make asan`, `make valgrind`, `make bench`,
# `make lint`, `make install` / `make uninstall` (PREFIX, DESTDIR).

PKGS     := lua5.4 libcurl libevent lua5.4-cjson hiredis
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
PURE     := buf url retry breaker limiter gcra rgcra adapt ratefile log time http json config tz cron file metrics
# Layer 2: event core.  Layer 3: Lua bindings (l*.c) and main.
CORE     := multi easy headers queue origin share rshare redis req client server
BIND     := lrt ltask lcron ljson lrequest lconfig lconffile lstockx lserver lmetrics lsandbox lembed lrepl main
SRCS     := $(PURE:%=src/sx_%.c) $(CORE:%=src/sx_%.c) $(BIND:%=src/%.c)
LUAS     := $(shell find lua -name '*.lua' | sort)

# Where `make install` puts the binary, stockx(1) and the bash completion.
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# The man page's date: the last commit's, else today's (in doc/man.sh).
MANDATE  := $(shell git log -1 --format=%cs 2>/dev/null)

all: stockx $(B)/stockx.1

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

# The man page: doc/stockx.1.in with its synopsis and option lists written
# from the binary's own --help and --settings, so they cannot drift.
$(B)/stockx.1: stockx doc/stockx.1.in doc/man.sh | $(B)
	sh doc/man.sh ./stockx doc/stockx.1.in "$(MANDATE)" > $@.tmp
	mv $@.tmp $@

# ---- install -------------------------------------------------------------
install: stockx $(B)/stockx.1
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 stockx $(DESTDIR)$(BINDIR)/stockx
	install -m 0644 $(B)/stockx.1 $(DESTDIR)$(MANDIR)/man1/stockx.1
	install -m 0644 doc/stockx.bash $(DESTDIR)$(BASHCOMPDIR)/stockx

# Removes the three files install wrote (not the directories, which may
# hold other programs' files).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/stockx $(DESTDIR)$(MANDIR)/man1/stockx.1 \
	    $(DESTDIR)$(BASHCOMPDIR)/stockx

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
	    tests/bench/tasks.lua tests/bench/quota.lua \
	    tests/bench/adaptive.lua tests/bench/cache.lua tests/bench/naive.lua
	sh tests/lint.sh
	sh tests/lint.sh --self-test

clean:
	rm -rf build stockx stockx-asan

.PHONY: FORCE all unit test asan test-asan test-valgrind valgrind bench lint \
        clean install uninstall
