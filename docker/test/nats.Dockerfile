# The deployment test's stand-in for the official NATS image (no image registry is reachable
# there): Debian's nats-server on the test base, started the same way (arguments after the image).
ARG BASE_IMAGE=tandem-base:test
FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="nats-server (Debian, Tandem deployment test)"
RUN mkdir -p /data /etc/nats
ENTRYPOINT ["tini", "--", "nats-server"]
