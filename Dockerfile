# The custom runner image: GitHub's runner image plus board tools.
# ghr rebuilds it (as RUNNER_CUSTOM_IMAGE) when this file's sha256 changes. runner-wrapper is
# not baked in: ghr mounts itself (a static binary) into board runners of any image.
FROM ghcr.io/actions/actions-runner:latest
USER root
# Board tools: Modbus power relays (mbpoll), serial consoles (picocom, pyserial),
# USB debuggers (usbutils), U-Boot images, and loop-mounted disk images.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      mbpoll picocom python3-serial usbutils u-boot-tools kmod udev \
      xz-utils zstd parted dosfstools e2fsprogs \
 && rm -rf /var/lib/apt/lists/*
USER runner
