#!/usr/bin/env bash
# Prepares a fresh Ubuntu VM to become a kubeadm control-plane node: kernel modules and sysctls
# kubeadm's preflight checks, swap off, containerd with the systemd cgroup driver, and
# kubeadm/kubelet/kubectl from the pkgs.k8s.io channel of the wanted minor, pinned and held.
#
# It never runs `kubeadm join`: masters join through the program's join step, one at a time
# (the seed's k8s_join_command = "" for masters).
#
# Usage: k8s-node-prepare.sh KUBERNETES_VERSION        e.g. k8s-node-prepare.sh 1.34.8
# Runs as root from cloud-init's runcmd; safe to run again by hand (a second run changes nothing).
set -euo pipefail

log() { echo "k8s-node-prepare: $*"; }
die() { echo "k8s-node-prepare: $*" >&2; exit 1; }

version="${1:-}"
[[ $version =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || die "usage: $0 MAJOR.MINOR.PATCH (got '${version}')"
channel="v${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
[[ $EUID -eq 0 ]] || die "must run as root"

# Writes a file only when its content differs, so a re-run leaves mtimes (and services) alone.
put_file() {
    local path=$1 content=$2
    if [[ ! -f $path ]] || [[ "$(cat "$path")" != "$content" ]]; then
        install -d -m 0755 "$(dirname "$path")"
        printf '%s\n' "$content" >"$path"
        log "wrote $path"
    fi
}

put_file /etc/modules-load.d/kubernetes.conf $'overlay\nbr_netfilter'
modprobe overlay
modprobe br_netfilter
put_file /etc/sysctl.d/99-kubernetes.conf $'net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward = 1'
sysctl --system >/dev/null

# kubelet refuses to start with swap on (unless configured otherwise); keep it off across reboots.
swapoff -a
if grep -Eq '^[^#].*\sswap\s' /etc/fstab; then
    sed -i -E 's/^([^#].*\sswap\s.*)$/# disabled for kubelet: \1/' /etc/fstab
    log "commented swap entries in /etc/fstab"
fi

apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q "$@"; }

apt_get update
apt_get install -y apt-transport-https ca-certificates curl gpg containerd

# containerd must use the systemd cgroup driver, like the kubelet kubeadm configures.
install -d -m 0755 /etc/containerd
if [[ ! -s /etc/containerd/config.toml ]] || ! grep -q 'SystemdCgroup = true' /etc/containerd/config.toml; then
    containerd config default >/etc/containerd/config.toml
    sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' /etc/containerd/config.toml
    grep -q 'SystemdCgroup = true' /etc/containerd/config.toml || die "could not enable SystemdCgroup in /etc/containerd/config.toml"
    systemctl restart containerd
    log "containerd configured with the systemd cgroup driver"
fi
systemctl enable --now containerd >/dev/null

keyring=/etc/apt/keyrings/kubernetes-apt-keyring.gpg
repo="https://pkgs.k8s.io/core:/stable:/${channel}/deb/"
install -d -m 0755 /etc/apt/keyrings
if [[ ! -s $keyring ]] || ! grep -qF "$repo" /etc/apt/sources.list.d/kubernetes.list 2>/dev/null; then
    curl -fsSL --retry 5 --max-time 60 "${repo}Release.key" | gpg --dearmor --yes -o "$keyring"
    put_file /etc/apt/sources.list.d/kubernetes.list "deb [signed-by=${keyring}] ${repo} /"
    apt_get update
fi

installed="$(dpkg-query -W -f='${Version}' kubeadm 2>/dev/null || true)"
if [[ $installed != "${version}-"* ]]; then
    apt-mark unhold kubelet kubeadm kubectl >/dev/null 2>&1 || true
    apt_get install -y --allow-change-held-packages "kubelet=${version}-*" "kubeadm=${version}-*" "kubectl=${version}-*"
    log "installed kubelet, kubeadm and kubectl ${version}"
fi
apt-mark hold kubelet kubeadm kubectl >/dev/null
systemctl enable kubelet >/dev/null
log "ready for kubeadm join --control-plane (${channel} channel, kubeadm ${version})"
