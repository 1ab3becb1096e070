#!/usr/bin/env bash
# Writes a podman configuration that works on these machines (root, no systemd, hybrid cgroups, no image
# registry) into a work dir, and prints the variables that select it, one KEY=VALUE a line:
#   set -a; eval "$(deploy/image/podman-env.sh)"; set +a; podman images
# Why each setting: crun refuses the hybrid cgroup layout (runc does not); there is no systemd for the cgroup
# manager or the event journal; podman's default nofile limit is above this machine's hard limit, so containers
# would not start; the CNI config of the Debian package names plugins that are not installed (netavark is).
# Storage and state stay out of /etc and /var/lib/containers, so nothing of the machine's is changed.
#   CRYPTOSCALP_PODMAN_DIR  storage, configuration, network configs, build cache (default /var/tmp/cryptoscalp-podman)
#   CRYPTOSCALP_PODMAN_RUN  runtime state, on a tmpfs so a reboot clears it (default /run/cryptoscalp-podman)
set -euo pipefail
dir="${CRYPTOSCALP_PODMAN_DIR:-/var/tmp/cryptoscalp-podman}"
run="${CRYPTOSCALP_PODMAN_RUN:-/run/cryptoscalp-podman}"
case "$dir$run" in *[[:space:]]*) echo "podman-env: paths with spaces are not supported: $dir $run" >&2; exit 2 ;; esac
mkdir -p "$dir/storage" "$dir/networks" "$dir/volumes" "$dir/tmp" "$run/storage" "$run/libpod"
nofile="$(ulimit -Hn)"
[[ "$nofile" == unlimited ]] && nofile=1048576

# Written to a temporary file and renamed: concurrent callers never read a half-written file.
write() {
  local tmp
  tmp="$(mktemp "$1.XXXXXX")"
  cat >"$tmp"
  mv -f "$tmp" "$1"
}
write "$dir/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=32768:32768"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$run/libpod/events.log"
runtime = "runc"
tmp_dir = "$run/libpod"
volume_path = "$dir/volumes"

[network]
network_backend = "netavark"
network_config_dir = "$dir/networks"
CONF
write "$dir/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$dir/storage"
runroot = "$run/storage"
CONF
echo "CONTAINERS_CONF=$dir/containers.conf"
echo "CONTAINERS_STORAGE_CONF=$dir/storage.conf"
# Build scratch space and RUN --mount=type=cache directories (buildah keeps them under TMPDIR).
echo "TMPDIR=$dir/tmp"
