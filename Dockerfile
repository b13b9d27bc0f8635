# rdbak's container image: a static binary, CA certificates, a passwd entry
# for the non-root user 65532, an empty /tmp, and nothing else (no shell, no
# package manager).
#
#   docker build --build-arg VERSION=v1.2.3 -t rdbak:v1.2.3 .
#   docker build --build-arg TAGS=rdbak_nogcs,rdbak_noazure ...   # file:// and s3:// only, smaller
#
# Run it with a read-only root filesystem. rdbak writes nothing to its own
# filesystem except temporary files, which go to TMPDIR=/tmp: mount an
# emptyDir there (a file:// storage directory needs a volume of its own too).
#
# Kept in step with the test cluster's image. There is no Docker engine or
# registry on the machines that run rdbak's end-to-end tests, so they get
# rdbak.local/rdbak:<version> from hack/image.sh, which assembles the image
# without an engine and imports it into the testbed's containerd. The root
# filesystem comes from one recipe: the build stage below runs
# `hack/image.sh --rootfs`, the same function that fills the testbed image,
# so both have the same binary build (CGO_ENABLED=0, -trimpath,
# -tags disable_grpc_modules: no gRPC xDS/ORCA registrations from the GCS SDK,
# -ldflags "-s -w -X main.version=..."), the same files,
# modes and owners (0:0), and Debian 12's ca-certificates bundle. What the
# rootfs function cannot carry is the image config: User, Entrypoint,
# WorkingDir and Env below must equal the config JSON in hack/image.sh, and
# e2e/image_test.go asserts that JSON and the exact file list.
#
# The final stage is scratch rather than distroless/static: distroless also
# ships tzdata, os-release, nsswitch.conf, /home/nonroot and dpkg status files,
# which the testbed image could not mirror file for file. Time zones for
# CRON_TZ come from the binary instead (cmd/rdbak imports time/tzdata).

# The go directive of go.mod (GOTOOLCHAIN=local: a mismatch fails the build
# instead of fetching another toolchain); Debian 12 (bookworm) for the same
# ca-certificates package as the testbed host.
FROM golang:1.26.8-bookworm AS build
ARG VERSION=dev
ARG TAGS=
ENV GOTOOLCHAIN=local
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN hack/image.sh --rootfs /rootfs --version "$VERSION" --tags "$TAGS"

FROM scratch
COPY --from=build /rootfs/ /
USER 65532:65532
WORKDIR /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    TMPDIR=/tmp
ENTRYPOINT ["/rdbak"]
