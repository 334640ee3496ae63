# The one definition of how a Lambda bootstrap is built. `sam build` calls
# the build-<LogicalId> targets (BuildMethod: makefile in template.yaml) with
# ARTIFACTS_DIR set; the emulator tests and the benchmark call the same
# targets through internal/testonly/lambdaemu, with GOARCH set to this
# machine's architecture so that the emulator can run the result.
#
#   make build-CreateSessionFunction ARTIFACTS_DIR=out   # out/bootstrap, linux/arm64
#   make bootstrap PKG=./bench/hello ARTIFACTS_DIR=out   # any main package
#
# Static (CGO_ENABLED=0: Amazon Linux 2023 need not have the build
# machine's glibc), without the RPC mode that only the retired go1.x
# runtime used (lambda.norpc), stripped and without local paths.

GOARCH ?= arm64
ARTIFACTS_DIR ?= .aws-sam/manual
GO ?= go

GO_BOOTSTRAP = CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) $(GO) build \
	-tags lambda.norpc -trimpath -ldflags="-s -w" \
	-o "$(ARTIFACTS_DIR)/bootstrap"

.PHONY: build-CreateSessionFunction build-WebhookFunction build-StatusFunction bootstrap

build-CreateSessionFunction:
	$(GO_BOOTSTRAP) ./cmd/createsession

build-WebhookFunction:
	$(GO_BOOTSTRAP) ./cmd/webhook

build-StatusFunction:
	$(GO_BOOTSTRAP) ./cmd/status

bootstrap:
	@test -n "$(PKG)" || { echo "make bootstrap needs PKG=./path/to/main/package" >&2; exit 2; }
	$(GO_BOOTSTRAP) $(PKG)
