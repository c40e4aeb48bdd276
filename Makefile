# jitgate: a thin wrapper over meson + ninja. `make` builds into build/, `make check` runs every test.
BUILD ?= build
FUZZ_SECONDS ?= 15

.PHONY: all deps check check-ha run demo bench bench-compare fuzz fuzz-long deb clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	@scripts/deps.sh --if-missing
	meson setup $(BUILD) -Dwerror=true

deps:
	scripts/deps.sh

# Everything CI runs: warnings-as-errors build, sanitizer build, unit, end-to-end (root, namespaces), fuzz smoke.
check:
	@scripts/deps.sh --if-missing
	scripts/check.sh

# PostgreSQL failover with pg_auto_failover under load (root), alone (make check runs it too; about a minute).
check-ha: all
	@scripts/deps.sh --if-missing
	tests/e2e/failover.sh $(BUILD)

# Start jitgated in the foreground with state in ./var (first start prints an Owner token and what to try).
run: all
	scripts/run.sh

# The whole story in throwaway namespaces, narrated (about 20 s).
demo: all
	scripts/demo.sh $(BUILD)

bench: all
	bench/fw-bench.sh $(BUILD)
	bench/dnat-bench.sh $(BUILD)
	bench/server-bench.sh $(BUILD)
	PG_DURABLE=1 tests/e2e/on-pg.sh bench/server-bench.sh $(BUILD)
	bench/replica-bench.sh $(BUILD)
	bench/failover-bench.sh $(BUILD)
	bench/store-bench.sh $(BUILD)
	bench/audit-bench.sh $(BUILD)
	bench/fleet-bench.sh $(BUILD)
	$(BUILD)/bench/metrics-bench
	$(BUILD)/bench/sso-ca-bench

# jitgate against fwknop on this machine, same run (root; installs fwknop-server fwknop-client iptables if missing); writes bench/RESULTS.md.
bench-compare: all
	bench/compare.sh $(BUILD)

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

fuzz-long:
	FUZZ_SECONDS=600 scripts/fuzz.sh

# The Debian package (debhelper, meson), built from a copy of the tree in build-deb/, checked by lintian.
deb:
	@scripts/deps.sh --if-missing
	scripts/deb.sh

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-deb
