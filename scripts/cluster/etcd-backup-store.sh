#!/usr/bin/env bash
# Stores a verified etcd snapshot and applies the retention. The etcd-backup CronJob (phase 4.5)
# runs it in its last container, after etcdctl took the snapshot and etcdutl checked it.
#
# Usage: etcd-backup-store.sh --snapshot FILE --dest DIR --keep N [--node NAME]
#
# Copies FILE into DIR as etcd-snapshot-<UTC yyyymmddThhmmssZ>-<node>.db (written as .partial,
# then renamed, so a half-written file never looks like a backup), then deletes all but the
# newest N etcd-snapshot-*.db in DIR. Touches no other file in DIR. Any snapshot is a full,
# consistent copy of the cluster, whichever member it came from; the node name only says where.
# Exit 0 = stored, 1 = failed, 2 = usage.
set -euo pipefail

usage_error() { echo "etcd-backup-store: $* (see the usage at the top of the script)" >&2; exit 2; }
die() { echo "etcd-backup-store: FAILED: $*" >&2; exit 1; }

snapshot="" dest="" keep="" node=${NODE_NAME:-unknown}
while [[ $# -gt 0 ]]; do
    case $1 in
        --snapshot) snapshot=${2:-}; shift 2 ;;
        --dest) dest=${2:-}; shift 2 ;;
        --keep) keep=${2:-}; shift 2 ;;
        --node) node=${2:-}; shift 2 ;;
        *) usage_error "unknown argument '$1'" ;;
    esac
done
[[ -n $snapshot && -n $dest ]] || usage_error "--snapshot and --dest are required"
[[ $keep =~ ^[1-9][0-9]*$ ]] || usage_error "--keep must be a positive whole number (got '$keep')"
[[ $node =~ ^[A-Za-z0-9.-]+$ ]] || usage_error "--node must be a node name (got '$node')"
[[ -s $snapshot ]] || die "snapshot $snapshot is missing or empty"
[[ -d $dest && -w $dest ]] || die "backup directory $dest is not a writable directory (is the volume mounted?)"

name="etcd-snapshot-$(date -u +%Y%m%dT%H%M%SZ)-$node.db"
partial="$dest/.$name.partial"
trap 'rm -f "$partial"' EXIT
cp "$snapshot" "$partial"
sync "$partial" 2>/dev/null || sync
mv -f "$partial" "$dest/$name"
echo "etcd-backup-store: stored $dest/$name ($(stat -c %s "$dest/$name") bytes)"

# Newest first by the timestamp in the name; everything past the first N goes.
mapfile -t old < <(find "$dest" -maxdepth 1 -type f -name 'etcd-snapshot-*.db' -printf '%f\n' | sort -r | tail -n +$((keep + 1)))
for f in "${old[@]}"; do
    rm -f -- "${dest:?}/$f"
    echo "etcd-backup-store: retention $keep: removed $f"
done
