# Tern — the two commands a newcomer needs:
#   make run    start a trial instance (127.0.0.1:2525/2587/2465, state in ./var)
#   make test   install what the tests need, build, run every test
SWIFT ?= swift
TERN_DEBUG := .build/debug/tern

.PHONY: run test build unit e2e bench deps test-deps clean

deps:
	scripts/install-build-deps

test-deps: deps
	scripts/install-test-deps

build: deps
	$(SWIFT) build --product tern

run: build
	$(TERN_DEBUG) serve

# Unit and in-process integration tests, then end-to-end tests with real peers.
test: test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) build --product tern
	$(SWIFT) test --skip-build
	Tests/e2e/run

unit: deps
	$(SWIFT) test

e2e: test-deps
	$(SWIFT) build --product tern
	Tests/e2e/run

# Not part of `make test`: Tern against a stock Postfix — receiving
# (smtp-source -> Maildir) and outbound (a full queue -> nsd -> smtp-sink).
# BENCH_MODE=receive or BENCH_MODE=outbound runs just one of them; the receive part also
# measures Tern with its SPF/DKIM/DMARC checks on (BENCH_CHECKS=0 skips that).
bench: test-deps
	BENCH_MODE=$${BENCH_MODE:-all} BENCH_CHECKS=$${BENCH_CHECKS:-1} bench/run

clean:
	rm -rf .build var
