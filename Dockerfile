# syntax=docker/dockerfile:1
# kpush as a container image: a static binary (no libc at run time) on an empty base, with the
# CA bundle, running as a non-root user. docs/container.md shows how to use it.
#
#   docker build -t kpush --build-arg VERSION=v0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" .
#
# The build command is scripts/build-release.sh, the same one the release workflow and
# scripts/test-container.sh (which runs the binary in an empty root) use.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
ARG REVISION=unknown
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    KPUSH_GIT_COMMIT="$(printf '%.12s' "$REVISION")" bash -c \
      'bin="$(bash scripts/build-release.sh | tail -n1)" && bash scripts/container-rootfs.sh /rootfs "$bin"'

FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
COPY --from=build /rootfs/ /
ENV PATH=/usr/local/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    HOME=/home/kpush
USER 65532:65532
WORKDIR /home/kpush
LABEL org.opencontainers.image.title="kpush" \
      org.opencontainers.image.description="Deploy Kubernetes manifests from CI to AKS: render, server-side apply, track rollouts, report." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.documentation="docs/container.md"
ENTRYPOINT ["kpush"]
CMD ["--help"]
