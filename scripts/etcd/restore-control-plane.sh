#!/usr/bin/env bash
# The seed plan's worst case (etcd lost or corrupted, split brain): the control plane brought back
# on one master from the newest snapshot phase 4.5's etcd-backup CronJob stored
# (etcd-snapshot-<UTC stamp>-<node>.db, scripts/cluster/etcd-backup-store.sh), as a new
# single-member etcd cluster; then the other masters rejoin. docs/runbook-restore-etcd.md gives
# every command in order for a 3-member cluster.
#
# Usage:
#   restore-control-plane.sh stop [--timeout S]
#       On EVERY master, first: moves the etcd and kube-apiserver manifests out of the kubelet's
#       manifests directory (kept in the state directory below; the very first copy also under
#       original/), waits until neither runs. No master may serve the old data once the restore
#       starts, or the clients behind the VIP see two diverging clusters.
#   restore-control-plane.sh restore (--backup-dir DIR | --snapshot FILE) --other-masters IP,IP|none
#                                    [--data-dir DIR] [--timeout S]
#       On ONE master (the original one, unless its disk is the problem): picks the newest
#       etcd-snapshot-*.db in DIR (or FILE), checks it (etcdutl snapshot status, then the
#       restore's own hash check), `etcdutl snapshot restore`s it into a FRESH data directory
#       (default: etcd-restore-<snapshot stamp> beside the old one) as a new cluster: a new
#       cluster token, this member alone, the revision bumped by 1e9 and compacted so every
#       client's watch starts over. The etcd manifest is pointed at it (--data-dir, its volume,
#       --initial-cluster of this member alone), etcd waited for, the apiserver manifest put back,
#       /readyz waited for, and kubeadm-config's etcd.local.dataDir set to it through kubeadm
#       (so `kubeadm upgrade` and the rejoining masters use it). The old data directory is never
#       touched, nor deleted: it stays for a post-mortem.
#   restore-control-plane.sh forget --node NAME --peer-url URL [--timeout S]
#       On the restored master, for each other master before it rejoins: its etcd member removed
#       if the restored cluster has one (a failed rejoin's; the guard of scripts/etcd/lib.sh) and
#       its Node object deleted (kubeadm join refuses a name whose Node exists). A master that
#       already rejoined (a healthy member) is left alone.
# Then each other master: scripts/kubeadm/reset-node.sh (kubeadm reset without its etcd phase:
# its old data directory stays too), fresh join material and `kubeadm join --control-plane` as in
# docs/runbook-add-master.md.
#
# Idempotent: every step checks whether it is done. A run stopped half-way (after the restore,
# before the apiserver came back) is finished by running the same command again; the snapshot
# restore is not repeated once its data directory is complete (etcdutl writes DIR.partial, renamed
# at the end).
#
# Exit codes (each refusal changes nothing):
#   0  done, or already done
#   1  failed (the message says what state is left; fix it and run the same command again)
#   2  usage
#   3  refused: no snapshot (no etcd-snapshot-*.db in --backup-dir, or --snapshot missing)
#   4  refused: the snapshot fails its integrity check (etcdutl snapshot status or the restore's
#      sha256 check); give an older one with --snapshot
#   5  refused: etcd or kube-apiserver still runs on this master on the old data directory, or
#      its manifest is still in the kubelet's manifests directory: run `stop` first
#   6  refused: another master's etcd (2379) or kube-apiserver (6443) still answers: run `stop`
#      there first
#
# Environment: KUBERNETES_DIR (/etc/kubernetes), RESTORE_STATE_DIR
# ($KUBERNETES_DIR/tmp/ha-control-plane/restore: held/ and original/ manifests, restore.state),
# ETCDUTL_BIN (etcdutl; kubeadm masters do not have it: the runbook installs the etcd release of
# the cluster's etcd version), ETCD_HEALTH_URL (http://127.0.0.1:2381/health, kubeadm's metrics
# listener), HACP_POLL_SECONDS (5), and scripts/etcd/lib.sh's connection settings. Needs
# python3 with PyYAML (as phase 1.5 does), curl, kubectl and kubeadm; root.
# e.g.  sudo bash /tmp/hacp-scripts/etcd/restore-control-plane.sh restore \
#           --backup-dir /srv/nfs/etcd-backup --other-masters 10.0.20.110,10.0.20.111
set -euo pipefail

SCRIPT_NAME="restore-control-plane"
if ! declare -F etcd_lib_loaded >/dev/null; then
    # shellcheck source-path=SCRIPTDIR source=lib.sh
    source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

MANIFESTS="${KUBERNETES_DIR}/manifests"
STATE_DIR=${RESTORE_STATE_DIR:-${KUBERNETES_DIR}/tmp/ha-control-plane/restore}
STATE_FILE="${STATE_DIR}/restore.state"
ETCDUTL_BIN=${ETCDUTL_BIN:-etcdutl}
ETCD_HEALTH_URL=${ETCD_HEALTH_URL:-http://127.0.0.1:2381/health}
# Larger than any number of writes between the snapshot and the restore (etcd's own advice for a
# cluster used by Kubernetes), so no client holds a resourceVersion from the lost future.
BUMP_REVISION=1000000000

refuse() {
    local code=$1
    shift
    printf '%s: REFUSED: %s\n' "$SCRIPT_NAME" "$*" >&2
    exit "$code"
}

# The first value of --NAME in a static pod manifest's command list.
manifest_flag() {
    sed -nE "s/^[[:space:]]*-[[:space:]]+[\"']?--${2}=([^\"']*)[\"']?[[:space:]]*\$/\\1/p" "$1" | head -n1
}

running() { [[ -n $(crictl ps --name "^$1\$" --state running -q </dev/null 2>/dev/null | head -n1) ]]; }
answers() { timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# The secure port of this master's apiserver, from its manifest wherever it is.
apiserver_port() {
    local f port=""
    for f in "$MANIFESTS/kube-apiserver.yaml" "$STATE_DIR/held/kube-apiserver.yaml"; do
        [[ -r $f ]] && port=$(manifest_flag "$f" secure-port) && [[ -n $port ]] && break
    done
    printf '%s' "${port:-6443}"
}

# What of the control plane still runs here, one word per part ("" when nothing).
local_control_plane_up() {
    local up=() port
    port=$(apiserver_port)
    if running etcd || answers 127.0.0.1 2379; then up+=(etcd); fi
    if running kube-apiserver || answers 127.0.0.1 "$port"; then up+=(kube-apiserver); fi
    printf '%s' "${up[*]}"
}

# This master's name: its etcd member's (kubeadm names the member after the node), wherever the
# manifest is; the host name otherwise.
this_node() {
    local f name=""
    for f in "$MANIFESTS/etcd.yaml" "$STATE_DIR/held/etcd.yaml"; do
        [[ -r $f ]] && name=$(manifest_flag "$f" name) && [[ -n $name ]] && break
    done
    printf '%s' "${name:-$(hostname)}"
}

# restore.state: KEY=VALUE lines written by this script (read without sourcing).
state_get() {
    if [[ -r $STATE_FILE ]]; then sed -n "s/^$1=//p" "$STATE_FILE" | tail -n1; fi
}

# ---- stop ------------------------------------------------------------------------------------

pod_down() {
    case $1 in
        etcd) ! running etcd && ! answers 127.0.0.1 2379 ;;
        kube-apiserver) ! running kube-apiserver && ! answers 127.0.0.1 "$(apiserver_port)" ;;
    esac
}

# The apiserver first, then etcd: an apiserver whose etcd vanishes under it hangs in its shutdown.
cmd_stop() {
    local pod live
    install -d -m 0700 "$STATE_DIR" "$STATE_DIR/held" "$STATE_DIR/original"
    for pod in kube-apiserver etcd; do
        live="$MANIFESTS/$pod.yaml"
        if [[ -f $live ]]; then
            [[ -e $STATE_DIR/original/$pod.yaml ]] || cp -p "$live" "$STATE_DIR/original/$pod.yaml"
            mv -f "$live" "$STATE_DIR/held/$pod.yaml"
            log "$pod: manifest moved out of $MANIFESTS (kept as $STATE_DIR/held/$pod.yaml); waiting up to ${TIMEOUT}s for the kubelet to stop it"
        elif [[ -f $STATE_DIR/held/$pod.yaml ]]; then
            log "$pod: manifest already held ($STATE_DIR/held/$pod.yaml)"
        else
            warn "$pod: no manifest in $MANIFESTS nor held: is this a control-plane node?"
        fi
        wait_until "$TIMEOUT" "$pod to stop" pod_down "$pod" ||
            refuse 5 "$pod still running on $(this_node) ${TIMEOUT}s after its manifest left $MANIFESTS: the kubelet did not stop it (crictl ps; crictl stop <id>), then run stop again"
    done
    echo "stop: etcd and kube-apiserver stopped on $(this_node); manifests held in $STATE_DIR/held"
}

# ---- restore ---------------------------------------------------------------------------------

# Rewrites an etcd static pod manifest for the restored member: the data directory in the flag,
# the volume and its mount; --initial-cluster this member alone, no --initial-cluster-state
# (etcd reads both only for an empty data directory; they are made true all the same).
ETCD_MANIFEST_PY='
import sys, yaml
path, old, new, name, peer = sys.argv[1:6]
pod = yaml.safe_load(open(path))
c = pod["spec"]["containers"][0]
key = "command" if any(str(a).startswith("--data-dir=") for a in c.get("command") or []) else "args"
args = []
for a in c.get(key) or []:
    a = str(a)
    if a.startswith("--data-dir="):
        a = "--data-dir=" + new
    elif a.startswith("--initial-cluster="):
        a = "--initial-cluster=%s=%s" % (name, peer)
    elif a.startswith("--initial-cluster-state="):
        continue
    args.append(a)
if "--data-dir=" + new not in args:
    sys.exit("no --data-dir flag in " + path)
c[key] = args
names = set()
for v in pod["spec"].get("volumes") or []:
    hp = v.get("hostPath") or {}
    if str(hp.get("path", "")).rstrip("/") == old.rstrip("/"):
        hp["path"] = new
        names.add(v.get("name"))
for m in c.get("volumeMounts") or []:
    if m.get("name") in names:
        m["mountPath"] = new
if not names:
    sys.exit("no hostPath volume for %s in %s" % (old, path))
yaml.safe_dump(pod, sys.stdout, default_flow_style=False, sort_keys=False)
'

choose_snapshot() {
    if [[ -n $SNAPSHOT ]]; then
        [[ -f $SNAPSHOT ]] || refuse 3 "snapshot $SNAPSHOT not found"
        return
    fi
    [[ -d $BACKUP_DIR ]] || refuse 3 "backup directory $BACKUP_DIR not found (is the NFS share mounted on $(this_node)?)"
    local newest
    # Newest first by the UTC stamp in the name, as the backup's retention orders them.
    newest=$(find "$BACKUP_DIR" -maxdepth 1 -type f -name 'etcd-snapshot-*.db' -printf '%f\n' | sort -r | head -n1)
    [[ -n $newest ]] || refuse 3 "no etcd-snapshot-*.db in $BACKUP_DIR: nothing to restore from (has phase 4.5's etcd-backup CronJob ever run? kubectl -n kube-system get jobs)"
    SNAPSHOT="$BACKUP_DIR/$newest"
}

check_snapshot() {
    local out
    if ! out=$("$ETCDUTL_BIN" snapshot status "$SNAPSHOT" -w json 2>&1); then
        refuse 4 "$SNAPSHOT fails its integrity check: etcdutl snapshot status says '$(first_error "$out")'; give an older snapshot with --snapshot"
    fi
    log "snapshot $SNAPSHOT: $out"
}

# Restores into DATA_DIR.partial and renames it: a complete directory or none.
restore_snapshot() {
    local partial="${DATA_DIR}.partial" token out
    token="ha-control-plane-restore-$(date -u +%Y%m%dT%H%M%SZ)"
    # Only ever our own half-written directory (a run killed during the restore).
    rm -rf -- "$partial"
    log "restoring $SNAPSHOT into $DATA_DIR as a new cluster (token $token, member $NAME=$PEER alone)"
    if ! out=$(timeout "$TIMEOUT" "$ETCDUTL_BIN" snapshot restore "$SNAPSHOT" --data-dir "$partial" --name "$NAME" \
        --initial-cluster "$NAME=$PEER" --initial-advertise-peer-urls "$PEER" --initial-cluster-token "$token" \
        --bump-revision "$BUMP_REVISION" --mark-compacted 2>&1); then
        rm -rf -- "$partial"
        if grep -qiE 'sha256|integrity' <<<"$out"; then
            refuse 4 "$SNAPSHOT fails its integrity check: its sha256 does not match the one etcdctl appended when it saved it (etcdutl snapshot restore: '$(first_error "$out" | cut -c1-40)...'); give an older snapshot with --snapshot"
        fi
        die "etcdutl snapshot restore failed: '$(first_error "$out")'; nothing is in use yet, run restore again"
    fi
    chmod 0700 "$partial"
    {
        echo "SNAPSHOT=$SNAPSHOT"
        echo "DATA_DIR=$DATA_DIR"
        echo "OLD_DATA_DIR=$OLD_DATA_DIR"
        echo "TOKEN=$token"
        echo "MEMBER=$NAME=$PEER"
        echo "RESTORED_AT=$(date -u +%FT%TZ)"
    } >"$STATE_FILE.new"
    mv -f "$STATE_FILE.new" "$STATE_FILE"
    mv -- "$partial" "$DATA_DIR"
    log "restored: $DATA_DIR"
}

# etcdutl's "Error: ..." line (a bbolt panic ends with one too), or its last line.
first_error() {
    local line
    line=$(grep -m1 '^Error: ' <<<"$1" || true)
    printf '%s' "${line:-$(tail -n1 <<<"$1")}"
}

etcd_serving() { [[ $(curl -s --max-time 5 "$ETCD_HEALTH_URL" || true) == *'"health":"true"'* ]]; }
apiserver_serving() { [[ $(curl -ks --max-time 5 "https://127.0.0.1:$(apiserver_port)/readyz" || true) == ok ]]; }

# Points the etcd manifest at the restored data directory (from the held one, written beside the
# manifests under a name the kubelet ignores, then renamed into place).
install_etcd_manifest() {
    local source="$STATE_DIR/held/etcd.yaml" tmp="$MANIFESTS/.etcd.yaml.restore-tmp"
    python3 -c "$ETCD_MANIFEST_PY" "$source" "$OLD_DATA_DIR" "$DATA_DIR" "$NAME" "$PEER" >"$tmp" ||
        { rm -f "$tmp"; die "cannot rewrite $source for $DATA_DIR (above); the restored data is in $DATA_DIR, run restore again once fixed"; }
    chmod 0600 "$tmp"
    mv -f "$tmp" "$MANIFESTS/etcd.yaml"
    rm -f "$source"
    log "etcd manifest now uses $DATA_DIR"
}

# kubeadm-config's etcd.local.dataDir, so kubeadm upgrade and the rejoining masters write the same.
record_data_dir() {
    local work=$WORK node address port
    PATCH_TOOL=$(shipped_file patch-cluster-config.py "$(script_dir)/../kubeadm" "$work")
    kctl -n kube-system get configmap kubeadm-config -o 'jsonpath={.data.ClusterConfiguration}' >"$work/live.yaml" ||
        die "cannot read kube-system/kubeadm-config from the restored apiserver"
    printf '{"etcd":{"local":{"dataDir":"%s"}}}' "$DATA_DIR" >"$work/fragment.json"
    if patch_tool --check --patch "@$work/fragment.json" --in "$work/live.yaml" 2>/dev/null; then
        log "kubeadm-config already names $DATA_DIR as etcd's data directory"
        return 0
    fi
    patch_tool --patch "@$work/fragment.json" --in "$work/live.yaml" --out "$work/cluster.yaml" || die "patch-cluster-config.py refused (above)"
    node=$NAME
    address=$(manifest_flag "$MANIFESTS/kube-apiserver.yaml" advertise-address)
    port=$(apiserver_port)
    write_kubeadm_config "$work/cluster.yaml" "$work/kubeadm.yaml" "$node" "$address" "$port"
    kubeadm init phase upload-config kubeadm --config "$work/kubeadm.yaml" >&2 ||
        die "kubeadm init phase upload-config kubeadm failed; the control plane runs on $DATA_DIR, run restore again to record it"
    log "kubeadm-config: etcd.local.dataDir=$DATA_DIR"
}

cmd_restore() {
    [[ -n $OTHER_MASTERS ]] || usage_error "restore needs --other-masters IP,IP (or none for a single master)"
    [[ -n $BACKUP_DIR || -n $SNAPSHOT ]] || usage_error "restore needs --backup-dir DIR or --snapshot FILE"
    command -v "$ETCDUTL_BIN" >/dev/null 2>&1 ||
        die "$ETCDUTL_BIN not found: install etcdutl of the cluster's etcd version (docs/runbook-restore-etcd.md, step 0) or set ETCDUTL_BIN"
    install -d -m 0700 "$STATE_DIR" "$STATE_DIR/held" "$STATE_DIR/original"
    local live="$MANIFESTS/etcd.yaml" recorded live_dir="" source
    recorded=$(state_get DATA_DIR)
    [[ -f $live ]] && live_dir=$(manifest_flag "$live" data-dir)

    if [[ -n $recorded && $live_dir == "$recorded" ]]; then
        DATA_DIR=$recorded OLD_DATA_DIR=$(state_get OLD_DATA_DIR) SNAPSHOT=$(state_get SNAPSHOT)
        NAME=$(manifest_flag "$live" name)
        log "etcd already runs from the restored $DATA_DIR (snapshot $SNAPSHOT): finishing what is left"
    else
        [[ ! -f $live ]] ||
            refuse 5 "etcd's manifest is still in $MANIFESTS (data directory ${live_dir:-?}): run \`restore-control-plane.sh stop\` on every master first"
        [[ ! -f $MANIFESTS/kube-apiserver.yaml ]] ||
            refuse 5 "kube-apiserver's manifest is still in $MANIFESTS: run \`restore-control-plane.sh stop\` on every master first"
        local up
        up=$(local_control_plane_up)
        [[ -z $up ]] || refuse 5 "$up still running on $(this_node) (on the old data directory): run \`restore-control-plane.sh stop\` first"
        source="$STATE_DIR/held/etcd.yaml"
        [[ -r $source ]] || die "no etcd manifest held in $STATE_DIR/held: run stop on this master first (is it a control-plane node?)"
        [[ -r $STATE_DIR/held/kube-apiserver.yaml ]] || die "no kube-apiserver manifest held in $STATE_DIR/held: run stop on this master first"
        NAME=$(manifest_flag "$source" name)
        PEER=$(manifest_flag "$source" initial-advertise-peer-urls)
        OLD_DATA_DIR=$(manifest_flag "$source" data-dir)
        [[ -n $NAME && -n $PEER && -n $OLD_DATA_DIR ]] || die "cannot read --name, --initial-advertise-peer-urls and --data-dir from $source"

        if [[ $OTHER_MASTERS != none ]]; then
            local ip port answering=()
            for ip in ${OTHER_MASTERS//,/ }; do
                is_ipv4 "$ip" || usage_error "--other-masters takes IPv4 addresses (got '$ip')"
                for port in 2379 6443; do if answers "$ip" "$port"; then answering+=("$ip:$port"); fi; done
            done
            ((${#answering[@]} == 0)) ||
                refuse 6 "another master still serves the old cluster (${answering[*]} answers): run \`restore-control-plane.sh stop\` there first, or power it off; two clusters behind one VIP diverge"
        fi

        choose_snapshot
        check_snapshot
        if [[ -z $DATA_DIR ]]; then
            local stamp
            stamp=$(basename "$SNAPSHOT" .db)
            stamp=${stamp#etcd-snapshot-}
            DATA_DIR="$(dirname "$OLD_DATA_DIR")/etcd-restore-${stamp//[^A-Za-z0-9._-]/_}"
        fi
        [[ ${DATA_DIR%/} != "${OLD_DATA_DIR%/}" ]] || usage_error "--data-dir must not be the old data directory $OLD_DATA_DIR: it is kept as it is"
        if [[ -e $DATA_DIR ]]; then
            [[ $recorded == "$DATA_DIR" && $(state_get SNAPSHOT) == "$SNAPSHOT" ]] ||
                die "$DATA_DIR exists and is not this restore's (restore.state names '${recorded:-nothing}'): give another --data-dir; nothing was changed"
            log "$DATA_DIR already holds the restore of $SNAPSHOT: not restoring again"
        else
            restore_snapshot
        fi
        install_etcd_manifest
    fi

    log "waiting up to ${TIMEOUT}s for etcd on $DATA_DIR"
    wait_until "$TIMEOUT" "etcd to serve from $DATA_DIR" etcd_serving ||
        die "etcd does not serve from $DATA_DIR within ${TIMEOUT}s (crictl ps -a --name etcd; crictl logs <id>); run restore again once fixed"
    local members
    members=$(etcd_member_records) || die "cannot list the restored etcd's members: $members"
    log "etcd members: $(cut -d $'\x1f' -f 3,4 <<<"$members" | tr $'\x1f' = | paste -sd ' ' -)"

    if [[ ! -f $MANIFESTS/kube-apiserver.yaml ]]; then
        [[ -r $STATE_DIR/held/kube-apiserver.yaml ]] || die "no kube-apiserver manifest in $MANIFESTS nor held in $STATE_DIR/held"
        mv -f "$STATE_DIR/held/kube-apiserver.yaml" "$MANIFESTS/kube-apiserver.yaml"
        log "kube-apiserver manifest put back"
    fi
    log "waiting up to ${TIMEOUT}s for kube-apiserver /readyz"
    wait_until "$TIMEOUT" "kube-apiserver /readyz on the restored etcd" apiserver_serving ||
        die "kube-apiserver is not ready within ${TIMEOUT}s on the restored etcd ($DATA_DIR, which stays in use): crictl ps -a --name kube-apiserver; crictl logs <id>; run restore again once fixed"
    record_data_dir
    echo "restore: the control plane runs on $(this_node) from $SNAPSHOT, etcd data in $DATA_DIR (the old $OLD_DATA_DIR is kept); next, for each other master: forget here, reset-node.sh there, then join it again"
}

# ---- forget ----------------------------------------------------------------------------------

cmd_forget() {
    [[ -n $NODE && -n $PEER_URL ]] || usage_error "forget needs --node NAME and --peer-url URL"
    local recorded live="$MANIFESTS/etcd.yaml" self index
    recorded=$(state_get DATA_DIR)
    [[ -n $recorded && -f $live && $(manifest_flag "$live" data-dir) == "$recorded" ]] ||
        die "this master does not run the restored etcd (no restore recorded in $STATE_FILE): run forget on the master restore ran on"
    self=$(manifest_flag "$live" name)
    [[ $NODE != "$self" ]] || usage_error "$NODE is this master: forget the other masters"
    etcd_load_members || die "cannot list the restored etcd's members"
    index=$(etcd_find_member "$NODE" "$PEER_URL")
    if ((index >= 0)) && [[ ${M_STATUS[index]} == started && ${M_HEALTHY[index]} == healthy ]]; then
        echo "forget: ${NODE} already rejoined the restored cluster (a healthy etcd member): nothing to forget"
        return 0
    fi
    etcd_remove_member "$NODE" "$PEER_URL" "$self" "$TIMEOUT" || die "could not remove ${NODE}'s stale etcd member (above)"
    if kctl get node "$NODE" -o name >/dev/null 2>&1; then
        kctl delete node "$NODE" --wait=false >&2 || die "kubectl delete node $NODE failed"
        log "deleted the Node $NODE (it registers again when it joins)"
    else
        log "no Node $NODE"
    fi
    echo "forget: ${NODE} is neither an etcd member nor a Node of the restored cluster; reset it and join it again"
}

main() {
    ACTION=${1:-}
    [[ $ACTION == stop || $ACTION == restore || $ACTION == forget ]] || usage_error "first argument must be stop, restore or forget"
    shift
    TIMEOUT=300 BACKUP_DIR="" SNAPSHOT="" OTHER_MASTERS="" DATA_DIR="" NODE="" PEER_URL=""
    while [[ $# -gt 0 ]]; do
        case $1 in
            --timeout) TIMEOUT=$(need_value "$1" "${2-}"); shift 2 ;;
            --backup-dir) BACKUP_DIR=$(need_value "$1" "${2-}"); shift 2 ;;
            --snapshot) SNAPSHOT=$(need_value "$1" "${2-}"); shift 2 ;;
            --other-masters) OTHER_MASTERS=$(need_value "$1" "${2-}"); shift 2 ;;
            --data-dir) DATA_DIR=$(need_value "$1" "${2-}"); shift 2 ;;
            --node) NODE=$(need_value "$1" "${2-}"); shift 2 ;;
            --peer-url) PEER_URL=$(need_value "$1" "${2-}"); shift 2 ;;
            *) usage_error "unknown argument '$1'" ;;
        esac
    done
    [[ $TIMEOUT =~ ^[0-9]+$ ]] || usage_error "--timeout must be whole seconds"
    [[ -z $DATA_DIR || $DATA_DIR == /* ]] || usage_error "--data-dir must be an absolute path"
    [[ -z $BACKUP_DIR || -z $SNAPSHOT ]] || usage_error "give --backup-dir or --snapshot, not both"
    require_root
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/restore-control-plane.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
    case $ACTION in
        stop) cmd_stop ;;
        restore) cmd_restore ;;
        forget) cmd_forget ;;
    esac
}

main "$@"
