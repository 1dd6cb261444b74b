# ecs-agent container image: one static binary and the CA bundle, FROM scratch,
# like the Go agent's image.
#
# The binary is not compiled here: a multi-stage build would need a Rust base
# image. `scripts/image` builds it first (static glibc binary:
#   RUSTFLAGS="-C target-feature=+crt-static" \
#     cargo build --release --target x86_64-unknown-linux-gnu --bin ecs-agent)
# and stages it with the host's CA bundle under .work/agent-image/stage/, then
# builds this file with buildah. To use docker instead:
#
#   scripts/image --stage-only && docker build -t ecs-agent:latest .
#
# .dockerignore keeps everything but the staged files out of the context.
# How to run the image (containerd socket, ECS_DATADIR at the same path inside
# and outside, host networking): deploy/README.md.
FROM scratch

ARG STAGE=.work/agent-image/stage
ARG VERSION=0.1.0
ARG REVISION=unknown

LABEL org.opencontainers.image.title="ecs-agent" \
      org.opencontainers.image.description="Amazon ECS container agent that drives containerd directly" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.documentation="deploy/README.md"

COPY ${STAGE}/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY ${STAGE}/ecs-agent /usr/local/bin/ecs-agent

# The Go agent's ports: introspection (51678), credentials and task metadata
# (51679). The agent runs with host networking, so this is documentation.
EXPOSE 51678 51679

ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt

ENTRYPOINT ["/usr/local/bin/ecs-agent"]
