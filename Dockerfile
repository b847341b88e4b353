# The controller image for those who build with Docker. `make image` builds
# the same layout without a daemon and reproducibly (README.md, "Image");
# both lay the filesystem out with hack/image: a static /baton with the file
# capability cap_net_bind_service=ep, the NSS CA roots, passwd/group entries
# for the nonroot user 65532, and nothing else (no shell).
#
# The final stage copies the capability as the security.capability xattr,
# which needs a builder whose COPY --from keeps xattrs: BuildKit (the default
# builder since Docker 23). The legacy builder drops it, and the DaemonSet
# then fails to bind ports 80/443 with "permission denied".
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
COPY hack/image/go.mod hack/image/go.sum hack/image/
RUN go mod download && go -C hack/image mod download
COPY . .
# Timestamps of the laid-out files; Docker sets the layer's own.
ARG SOURCE_DATE_EPOCH=0
RUN go -C hack/image run . -src /src -rootfs /rootfs

FROM scratch
COPY --from=build /rootfs/ /
USER 65532:65532
ENTRYPOINT ["/baton"]
