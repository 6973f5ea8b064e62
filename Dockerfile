# hafs: one image for NameNodes, DataNodes and hactl.
#
#   docker build -t hafs:0.1.0 .
#   docker run hafs:0.1.0 namenode --config /etc/hafs/namenode.toml
#   docker run hafs:0.1.0 datanode --config /etc/hafs/datanode.toml
#   docker run hafs:0.1.0 hactl --conf /etc/hafs/client.toml ha status
#
# The entry point (deploy/docker/entrypoint.py) reads secrets from *_FILE variables,
# fills ${VAR} placeholders of the config and execs `python -m ha_namenode` or
# `python -m datanode`; docs/operations.md ("Deploying") describes it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY hafs_api ./hafs_api
COPY ha_namenode ./ha_namenode
COPY datanode ./datanode
COPY client ./client
COPY chaos ./chaos
RUN pip install . && rm -rf /src

COPY deploy/docker/entrypoint.py /usr/local/bin/hafs-entrypoint
RUN chmod 0755 /usr/local/bin/hafs-entrypoint \
    && groupadd --system --gid 10001 hafs \
    && useradd --system --uid 10001 --gid hafs --home-dir /var/lib/hafs \
        --shell /usr/sbin/nologin hafs \
    && mkdir -p /var/lib/hafs /etc/hafs \
    && chown hafs:hafs /var/lib/hafs

WORKDIR /var/lib/hafs
USER 10001:10001
VOLUME ["/var/lib/hafs"]
# NameNode client RPC and Raft; DataNode data transfer; metrics of each.
EXPOSE 8020 8021 9866 9870 9864

# The daemon's standard gRPC health service on its configured RPC address.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["hafs-entrypoint", "health", "--timeout", "3"]

ENTRYPOINT ["hafs-entrypoint"]
CMD ["namenode"]
