# Castellan: one static binary on a distroless base.
#   docker build -t castellan .
#   docker run -p 8080:8080 castellan serve            (in-memory store, dev mode)
# docker-compose.yml runs it on PostgreSQL 15.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/castellan ./cmd/castellan

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/castellan /usr/local/bin/castellan
USER nonroot:nonroot
EXPOSE 8080
# distroless has no shell, curl or wget: the binary probes itself.
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=5 \
  CMD ["/usr/local/bin/castellan", "healthcheck", "--url", "http://127.0.0.1:8080"]
ENTRYPOINT ["/usr/local/bin/castellan"]
CMD ["serve", "--addr", ":8080"]
