# kvsentry: build, test, benchmark and demo targets.
# Tests need root (the native side of the comparisons runs under chroot) and
# musl-gcc (apt-get install musl-tools) for the C syscall probes.

GO          ?= go
SHARED      ?= $(or $(KVSENTRY_SHARED),$(CURDIR)/../shared)
TARBALL     := $(SHARED)/rootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz
DEMO_ROOTFS ?= /tmp/kvsentry-alpine
GIT_REV     := $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS     := $(if $(GIT_REV),-X main.version=0.1.0-dev+$(GIT_REV))

.PHONY: all build test soak bench bench-short demo fmt clean

all: build

## build: compile bin/kvsentry
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/kvsentry ./cmd/kvsentry

## test: vet and run every test (needs root and musl-gcc), then the
## end-to-end and differential suites again on the KVM platform
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...
	$(MAKE) test-kvm

## test-kvm: the end-to-end and differential suites again on the KVM
## platform (KVSENTRY_PLATFORM=kvm); skipped when kvm does not work here
test-kvm: build
	@if bin/kvsentry platforms | grep -q '^kvm *works'; then \
		KVSENTRY_PLATFORM=kvm $(GO) test -count=1 -timeout 30m ./test/e2e ./test/syscalls; \
	else \
		echo "test-kvm: skipped: $$(bin/kvsentry platforms | grep '^kvm')"; \
	fi

## soak: long fork+exec soak tests (100,000 cycles; 4 x 5,000 in parallel),
## reporting the count and the sentry's peak RSS; not part of `make test`
soak:
	KVSENTRY_SOAK=1 $(GO) test -count=1 -v -timeout 60m ./test/soak

## bench: the same workloads natively, under kvsentry and under peers, as ratios
## (full mode, 5 runs per cell; JSON in BENCH_JSON; RUNSC=path adds runsc columns;
## see test/bench/README.md)
BENCH_JSON ?= /tmp/kvsentry-bench.json
bench:
	$(GO) run ./test/bench -json '$(BENCH_JSON)'

## bench-short: the CI mode of bench (few iterations, 1 run per cell)
bench-short:
	$(GO) run ./test/bench -short -json '$(BENCH_JSON)'

## demo: build, prepare the Alpine rootfs once, run a shell in it
demo: build
	@if [ -e '$(DEMO_ROOTFS)/etc/alpine-release' ]; then \
		echo 'rootfs $(DEMO_ROOTFS) already prepared'; \
	else \
		bin/kvsentry rootfs prepare '$(DEMO_ROOTFS)' --tarball '$(TARBALL)'; \
	fi
	bin/kvsentry run --rootfs '$(DEMO_ROOTFS)' /bin/sh -c 'echo $$((6*7)); cat /etc/alpine-release'

## fmt: fail if any Go file is not gofmt-formatted
fmt:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "not gofmt-ed:"; echo "$$out"; exit 1; fi

clean:
	rm -rf bin
