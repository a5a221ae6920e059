# Prometheus from Debian's package, for machines that cannot pull prom/prometheus (the tests
# build it on their debootstrapped base; docker-compose.test.yml). Real users: prom/prometheus.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus \
    && rm -rf /var/lib/apt/lists/*
USER prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus", "--storage.tsdb.path=/var/lib/prometheus/metrics2"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--web.listen-address=:9090"]
