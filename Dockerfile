# The custom runner image: GitHub's runner image plus runner-wrapper and board tools.
# ghr rebuilds it (as RUNNER_CUSTOM_IMAGE) when this file's sha256 changes.

# Stage 1: a static runner-wrapper from this repository's source, so it runs in any image.
FROM rust:1-bookworm AS wrapper
WORKDIR /src
COPY . .
RUN target="$(rustc -vV | sed -n 's/^host: //p')" \
 && RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked -p runner-wrapper --target "$target" \
 && install -m 0755 "target/$target/release/runner-wrapper" /runner-wrapper

# Stage 2: the runner image.
FROM ghcr.io/actions/actions-runner:latest
USER root
# Board tools: Modbus power relays (mbpoll), serial consoles (picocom, pyserial),
# USB debuggers (usbutils), U-Boot images, and loop-mounted disk images.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      mbpoll picocom python3-serial usbutils u-boot-tools kmod udev \
      xz-utils zstd parted dosfstools e2fsprogs \
 && rm -rf /var/lib/apt/lists/*
COPY --from=wrapper /runner-wrapper /usr/local/bin/runner-wrapper
USER runner
