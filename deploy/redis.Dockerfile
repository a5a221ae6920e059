# Redis from Debian's package, for machines that cannot pull the official redis image (the
# tests build it on their debootstrapped base; docker-compose.test.yml). Real users: redis:7.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data && chown redis:redis /data
USER redis
WORKDIR /data
EXPOSE 6379
HEALTHCHECK --interval=5s --timeout=3s --retries=10 CMD ["redis-cli", "-p", "6379", "ping"]
CMD ["redis-server", "--appendonly", "yes", "--save", "", "--dir", "/data"]
