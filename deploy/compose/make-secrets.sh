#!/bin/sh
# Create the secrets deploy/compose/docker-compose.yml mounts, once, with fresh random
# values: secrets/raft_password (the Raft group's password), secrets/block_token_secret
# (the HMAC key NameNodes and DataNodes share) and secrets/grafana_admin_password.
# Existing files are kept, so running it again changes nothing. The directory is
# git-ignored; keep a copy somewhere safe: a new Raft password means a new cluster.
set -eu
cd "$(dirname "$0")"
umask 077
mkdir -p secrets
for name in raft_password block_token_secret grafana_admin_password; do
    if [ ! -s "secrets/$name" ]; then
        head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"secrets/$name"
        echo "created secrets/$name"
    fi
    # Compose bind-mounts each file as it is; the containers run as uid 10001 (hafs) and
    # 472 (grafana), so the file is world-readable inside the owner-only directory.
    chmod 0644 "secrets/$name"
done
chmod 0700 secrets
