# Nubiq Hub: a static binary on a distroless base, running as a non-root user.
# The image expects an external PostgreSQL with pgvector (NUBIQ_DATABASE_URL); the embedded
# local cluster of `make run` is for bare-metal development and is not in the image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/nubiq ./cmd/nubiq \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/nubiq /usr/local/bin/nubiq
# Owned by the nonroot user so a fresh named volume mounted here is writable.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV NUBIQ_ADDR=0.0.0.0:8080 \
    NUBIQ_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["nubiq", "healthcheck"]
ENTRYPOINT ["nubiq"]
CMD ["serve"]
