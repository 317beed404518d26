#!/bin/sh
# Runs `llmlab "$@"` as the unprivileged user `llmlab` (uid 10001).
#
# Started as root (the image's default), it first gives /data to that user when
# it does not own it yet: the volumes of Fly.io and Railway, and bind mounts,
# arrive owned by root. Started as any other user (`docker run --user …`), it
# changes nothing and runs llmlab as that user.
set -eu

if [ "$(id -u)" != 0 ]; then
    exec llmlab "$@"
fi
if [ -d /data ] && [ "$(stat -c %u /data)" != 10001 ]; then
    chown -R llmlab:llmlab /data
fi
exec setpriv --reuid=llmlab --regid=llmlab --init-groups --inh-caps=-all -- llmlab "$@"
