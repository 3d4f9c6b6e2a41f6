# syntax=docker/dockerfile:1

# Build stage: a static, pure-Go binary (the SQLite driver is pure Go, so no cgo).
# It runs on the build host's platform and cross-compiles, so multi-arch builds
# (docker buildx --platform linux/amd64,linux/arm64) need no emulation.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src

# Dependencies first, so this layer is reused until go.mod/go.sum change.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/pulse ./cmd/pulse

# The runtime image has no shell to mkdir/chown, so the data directory is made
# here and copied with its owner; a named volume mounted on /data starts empty
# and inherits this ownership.
RUN mkdir -p /out/data

# Runtime stage: distroless static (CA certificates and tzdata, no shell).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/pulse /pulse
COPY --from=build --chown=65532:65532 /out/data /data

ENV PULSE_ADDR=0.0.0.0:8080 \
    PULSE_DATA_DIR=/data
USER 65532:65532
VOLUME ["/data"]
EXPOSE 8080

# No shell or curl here, so the binary checks itself: `pulse healthcheck`
# requests /readyz on the local listener and exits non-zero unless it gets 200.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/pulse", "healthcheck"]

ENTRYPOINT ["/pulse"]
CMD ["serve"]
