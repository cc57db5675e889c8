#!/usr/bin/env bash
# Control-plane flag parity (phase 1.5, checked again in phase 6), the kubeadm way: the flags are
# declared in the cluster's ClusterConfiguration (kube-system/kubeadm-config), uploaded through
# kubeadm, and a master's static pod manifests are regenerated from it with kubeadm, so
# `kubeadm upgrade` keeps them. Editing the manifests by hand (the seed's sed) is what
# `kubeadm upgrade apply` silently undoes.
#
# Usage:
#   control-plane-flags.sh check EXPECTATIONS
#   control-plane-flags.sh apply  --node NAME --advertise-address IP [--bind-port 6443]
#                                 [--fragment JSON] [--timeout S] EXPECTATIONS
#   control-plane-flags.sh revert --node NAME --advertise-address IP [--bind-port 6443]
#                                 --fragment JSON [--timeout S] EXPECTATIONS
# EXPECTATIONS (repeatable; the stack passes its declared flags):
#   --expect-apiserver NAME=VALUE        kube-apiserver carries --NAME=VALUE, exactly once
#   --expect-apiserver-mount PATH:ro|rw  kube-apiserver mounts PATH, read-only or read-write
#   --expect-etcd NAME=VALUE             etcd carries --NAME=VALUE, exactly once
#
# check: this master's manifests against the expectations, one line per flag; exit 1 on any
#   difference. Every master compared with the same declared set is in parity with the others.
# apply: first, when --fragment (a merge document for scripts/kubeadm/patch-cluster-config.py,
#   e.g. {"apiServer":{"extraArgs":{...},"extraVolumes":[...]},"etcd":{"local":{"extraArgs":{...}}}})
#   would change the live ClusterConfiguration, patches it (v1beta3 or v1beta4 as found) and
#   uploads it with `kubeadm init phase upload-config kubeadm`. Then, for each component whose
#   manifest differs, `kubeadm init phase etcd local` / `kubeadm init phase control-plane
#   apiserver` with that ClusterConfiguration and this node's InitConfiguration (name, advertise
#   address), etcd first, each waited for (a new container running, then healthy) before the
#   next. Old manifests are kept under $KUBERNETES_DIR/tmp/ha-control-plane; a component not
#   healthy within --timeout gets its old manifest back and the run fails.
#   Before anything is uploaded or regenerated, kubeadm writes each manifest to be regenerated
#   with --dry-run; when that would drop a flag, change an undeclared flag's value or drop a
#   volume that the live manifest has (an earlier hand or Terraform edit kubeadm-config does not
#   declare), the run refuses, naming each one, and changes nothing. Declare them in
#   kubeadm-config (or remove them from the manifest) first.
# revert (the delete of phase 1.5): --fragment is the removal document (flags null, volumes
#   $delete); the same upload, then both components regenerated from it (a flag whose value is
#   also kubeadm's default stays, as kubeadm writes it). Phase 1.5 owns the declared flags: a
#   value kubeadm-config held before is not put back; the first apply keeps that configuration
#   in $KUBERNETES_DIR/tmp/ha-control-plane/cluster-configuration.before-phase-1.5.yaml.
# Idempotent: a master in parity and a configuration already patched are left alone.
#
# Environment: KUBERNETES_DIR (/etc/kubernetes), ETCD_HEALTH_URL (http://127.0.0.1:2381/health),
# HACP_POLL_SECONDS (5). Needs scripts/kubeadm/lib.sh and patch-cluster-config.py (the program
# ships them in front of this script; by hand they are found in the repository). Root for
# apply/revert. Exit 0 = in parity (or reverted), 1 = not / failed, 2 = usage.
set -euo pipefail

SCRIPT_NAME="control-plane-flags"
if ! declare -F hacp_lib_loaded >/dev/null; then
    # shellcheck source-path=SCRIPTDIR source=../kubeadm/lib.sh
    source "$(dirname "${BASH_SOURCE[0]}")/../kubeadm/lib.sh"
fi

ACTION="" NODE="" ADDRESS="" BIND_PORT=6443 TIMEOUT=300 FRAGMENT="" UPLOAD=false
EXPECT_APISERVER=() EXPECT_MOUNTS=() EXPECT_ETCD=()
MANIFESTS="${KUBERNETES_DIR}/manifests"
WORK_DIR="${KUBERNETES_DIR}/tmp/ha-control-plane"
ETCD_HEALTH_URL=${ETCD_HEALTH_URL:-http://127.0.0.1:2381/health}

say() { printf '%s: %s\n' "$SCRIPT_NAME" "$*"; }

parse_args() {
    ACTION=${1:-}
    [[ $ACTION == check || $ACTION == apply || $ACTION == revert ]] || usage_error "first argument must be check, apply or revert"
    shift
    while [[ $# -gt 0 ]]; do
        case $1 in
            --node) NODE=$(need_value "$1" "${2-}"); shift 2 ;;
            --advertise-address) ADDRESS=$(need_value "$1" "${2-}"); shift 2 ;;
            --bind-port) BIND_PORT=$(need_value "$1" "${2-}"); shift 2 ;;
            --timeout) TIMEOUT=$(need_value "$1" "${2-}"); shift 2 ;;
            --fragment) FRAGMENT=${2-}; shift 2 ;;
            --expect-apiserver) EXPECT_APISERVER+=("${2-}"); shift 2 ;;
            --expect-apiserver-mount) EXPECT_MOUNTS+=("${2-}"); shift 2 ;;
            --expect-etcd) EXPECT_ETCD+=("${2-}"); shift 2 ;;
            *) usage_error "unknown argument '$1'" ;;
        esac
    done
    local e
    for e in "${EXPECT_APISERVER[@]}" "${EXPECT_ETCD[@]}"; do
        [[ $e =~ ^[a-z0-9-]+=.+$ ]] || usage_error "an expectation must be NAME=VALUE (got '$e')"
    done
    for e in "${EXPECT_MOUNTS[@]}"; do
        [[ $e =~ ^/[^:]+:(ro|rw)$ ]] || usage_error "a mount expectation must be PATH:ro or PATH:rw (got '$e')"
    done
    ((${#EXPECT_APISERVER[@]} + ${#EXPECT_ETCD[@]} > 0)) || usage_error "nothing to compare: give at least one --expect-apiserver or --expect-etcd"
    if [[ $ACTION != check ]]; then
        [[ -n $NODE ]] || usage_error "$ACTION needs --node"
        is_ipv4 "$ADDRESS" || usage_error "$ACTION needs --advertise-address IPv4 (got '$ADDRESS')"
        [[ $BIND_PORT =~ ^[0-9]+$ && $TIMEOUT =~ ^[0-9]+$ ]] || usage_error "--bind-port and --timeout are numbers"
        [[ $ACTION != revert || -n $FRAGMENT ]] || usage_error "revert needs --fragment (the removal document)"
    fi
}

manifest_of() { case $1 in apiserver) echo "$MANIFESTS/kube-apiserver.yaml" ;; etcd) echo "$MANIFESTS/etcd.yaml" ;; esac; }
container_of() { case $1 in apiserver) echo kube-apiserver ;; etcd) echo etcd ;; esac; }

# Every value of --NAME in a static pod manifest's command list, one per line (quotes removed).
flag_values() {
    sed -nE "s/^[[:space:]]*-[[:space:]]+[\"']?--${1}=(.*)\$/\\1/p" "$2" | sed -E "s/[\"'][[:space:]]*\$//; s/[[:space:]]+\$//"
}

# "PATH ro|rw" for every volumeMount (kubeadm writes list items at the key's indentation;
# indented lists are read too).
mounts_in() {
    awk '
        function flush() { if (path != "") print path, (ro ? "ro" : "rw"); path = ""; ro = 0 }
        { match($0, /^ */); ind = RLENGTH }
        /^ *volumeMounts: *$/ { inm = 1; base = ind; next }
        inm && NF {
            if (ind < base || (ind == base && $0 !~ /^ *- /)) { flush(); inm = 0; next }
            line = $0
            if (line ~ /^ *- /) { flush(); sub(/^ *- /, "", line) }
            sub(/^ */, "", line)
            if (line ~ /^mountPath:/) { sub(/^mountPath: */, "", line); gsub(/["\047]/, "", line); path = line }
            else if (line ~ /^readOnly: *true/) ro = 1
        }
        END { flush() }' "$1"
}

# One component against its expectations; a line per flag; 1 on any difference. With `absent`
# the flags must not be there at all (revert).
check_component() {
    local component=$1 mode=$2 file bad=0 e name want count
    shift 2
    file=$(manifest_of "$component")
    [[ -r $file ]] || { say "$component: $file not found"; return 1; }
    for e in "$@"; do
        name=${e%%=*} want=${e#*=}
        local -a values
        mapfile -t values < <(flag_values "$name" "$file")
        count=${#values[@]}
        if [[ $mode == absent ]]; then
            if ((count > 0)); then say "$component --$name: STILL SET (${values[0]})"; bad=1; else say "$component --$name: absent"; fi
        elif ((count == 0)); then
            say "$component --$name: MISSING (want $want)"; bad=1
        elif ((count > 1)); then
            say "$component --$name: DUPLICATE ($count times)"; bad=1
        elif [[ ${values[0]} != "$want" ]]; then
            say "$component --$name: DIFFERS (have ${values[0]}, want $want)"; bad=1
        else
            say "$component --$name=${values[0]}: ok"
        fi
    done
    return "$bad"
}

check_mounts() {
    local mode=$1 file bad=0 e path want found
    file=$(manifest_of apiserver)
    [[ -r $file ]] || return 1
    for e in "${EXPECT_MOUNTS[@]}"; do
        path=${e%:*} want=${e##*:}
        found=$(mounts_in "$file" | awk -v p="$path" '$1 == p { print $2 }')
        if [[ $mode == absent ]]; then
            if [[ -n $found ]]; then say "apiserver mount $path: STILL MOUNTED"; bad=1; else say "apiserver mount $path: absent"; fi
        elif [[ -z $found ]]; then
            say "apiserver mount $path: MISSING"; bad=1
        elif [[ $(wc -l <<<"$found") -gt 1 ]]; then
            say "apiserver mount $path: DUPLICATE"; bad=1
        elif [[ $found != "$want" ]]; then
            say "apiserver mount $path: DIFFERS (have $found, want $want)"; bad=1
        else
            say "apiserver mount $path ($want): ok"
        fi
    done
    return "$bad"
}

# apiserver_in MODE / etcd_in MODE: MODE is `present` (as expected) or `absent`.
apiserver_in() {
    ((${#EXPECT_APISERVER[@]} == 0)) && return 0
    local bad=0
    check_component apiserver "$1" "${EXPECT_APISERVER[@]}" || bad=1
    check_mounts "$1" || bad=1
    return "$bad"
}
etcd_in() { ((${#EXPECT_ETCD[@]} == 0)) || check_component etcd "$1" "${EXPECT_ETCD[@]}"; }

# ---- the ClusterConfiguration -------------------------------------------------------------

# The apiserver's extraVolumes in a ClusterConfiguration: refuses a mount path used twice (an
# audit volume kubeadm-config already had under another name: give its name in the stack
# config), and warns about File volumes besides the declared policy, which every joining master
# needs too.
check_apiserver_volumes() {
    local volumes verdict policy="" e kind path names
    volumes=$(patch_tool --get apiServer.extraVolumes --in "$1")
    for e in "${EXPECT_APISERVER[@]}"; do [[ ${e%%=*} == audit-policy-file ]] && policy=${e#*=}; done
    verdict=$(POLICY="$policy" python3 -c '
import collections, json, os, sys
volumes = json.load(sys.stdin) or []
paths = collections.defaultdict(list)
for v in volumes:
    paths[str(v.get("mountPath", "")).rstrip("/")].append(v.get("name"))
for v in volumes:
    if v.get("pathType") == "File" and v.get("hostPath") != os.environ["POLICY"]:
        print("FILE %s %s" % (v.get("name"), v.get("hostPath")))
for path, names in sorted(paths.items()):
    if len(names) > 1:
        print("DUPLICATE %s %s" % (path, ",".join(map(str, names))))
' <<<"$volumes")
    while read -r kind path names; do
        case $kind in
            DUPLICATE) die "kubeadm-config would mount $path twice (extraVolumes $names): set controlPlaneFlags.audit.policyVolumeName / logVolumeName to the existing volume's name, so it is replaced in place" ;;
            FILE) warn "kubeadm-config also mounts the file $names into the apiserver (extraVolume $path): every master that joins needs it too" ;;
        esac
    done <<<"$verdict"
}

# What a regenerated manifest would lose, from the live manifest (argv 1) and kubeadm's dry run
# (argv 2); argv 3 and 4 are the flag names and mount paths the stack declares (changed or removed
# on purpose). One line per loss.
MANIFEST_LOSSES_PY='
import sys, yaml
live_path, new_path = sys.argv[1], sys.argv[2]
declared_flags = set(filter(None, sys.argv[3].split(",")))
declared_mounts = set(p.rstrip("/") for p in sys.argv[4].split(",") if p)
def facts(path):
    pod = yaml.safe_load(open(path)) or {}
    spec = pod.get("spec") or {}
    c = (spec.get("containers") or [{}])[0]
    flags = {}
    for item in (c.get("command") or [])[1:] + (c.get("args") or []):
        if str(item).startswith("--"):
            name, _, value = str(item)[2:].partition("=")
            flags.setdefault(name, []).append(value)
    volumes = {v.get("name"): v for v in spec.get("volumes") or []}
    mounts = {}
    for m in c.get("volumeMounts") or []:
        host = (volumes.get(m.get("name")) or {}).get("hostPath") or {}
        mounts[str(m.get("mountPath", "")).rstrip("/")] = (m.get("name"), host.get("path", "?"))
    return flags, mounts
live_flags, live_mounts = facts(live_path)
new_flags, new_mounts = facts(new_path)
for name, values in sorted(live_flags.items()):
    if name in declared_flags:
        continue
    if name not in new_flags:
        print("flag --%s=%s would be dropped" % (name, ",".join(values)))
    elif sorted(new_flags[name]) != sorted(values):
        print("flag --%s would change from %s to %s" % (name, ",".join(values), ",".join(new_flags[name])))
for path, (name, host) in sorted(live_mounts.items()):
    if path not in declared_mounts and path not in new_mounts:
        print("volume %s (host %s, mounted at %s) would be dropped" % (name, host, path))
'

# refuse_losses COMPONENT...: kubeadm regenerates a manifest from kubeadm-config alone; refuses,
# naming them, when that would lose what only the live manifest has. Nothing changed yet.
refuse_losses() {
    local component file dry config flags="" mounts="" e out line losses=""
    dry="$WORK/dry-run"
    mkdir -p "$dry"
    config="$WORK/kubeadm-dry-run.yaml"
    write_kubeadm_config "$WORK/cluster.yaml" "$config" "$NODE" "$ADDRESS" "$BIND_PORT"
    for e in "${EXPECT_APISERVER[@]}" "${EXPECT_ETCD[@]}"; do flags+="${e%%=*},"; done
    for e in "${EXPECT_MOUNTS[@]}"; do mounts+="${e%:*},"; done
    for component in "$@"; do
        file=$(manifest_of "$component")
        case $component in
            etcd) KUBEADM_INIT_DRYRUN_DIR="$dry" kubeadm init phase etcd local --config "$config" --dry-run >/dev/null ;;
            apiserver) KUBEADM_INIT_DRYRUN_DIR="$dry" kubeadm init phase control-plane apiserver --config "$config" --dry-run >/dev/null ;;
        esac || die "kubeadm --dry-run of $component failed (above); nothing was changed"
        [[ -r $dry/$(basename "$file") ]] || die "kubeadm --dry-run wrote no $(basename "$file"); nothing was changed"
        out=$(python3 -c "$MANIFEST_LOSSES_PY" "$file" "$dry/$(basename "$file")" "$flags" "$mounts") ||
            die "cannot compare $file with kubeadm's dry run: $out"
        if [[ -n $out ]]; then
            while IFS= read -r line; do losses+="    ${component}: ${line}"$'\n'; done <<<"$out"
        fi
    done
    [[ -z $losses ]] || die "regenerating from kubeadm-config would lose what only the live manifests have (a hand or Terraform edit?):"$'\n'"${losses}Declare each in kubeadm-config (apiServer.extraArgs/extraVolumes, etcd.local.extraArgs) or remove it from the manifest, then run again; nothing was changed"
}

# Patches kubeadm-config with --fragment when that changes it, through kubeadm; leaves the
# ClusterConfiguration to use in $WORK/cluster.yaml.
patch_cluster_configuration() {
    kctl -n kube-system get configmap kubeadm-config -o 'jsonpath={.data.ClusterConfiguration}' >"$WORK/live.yaml" ||
        die "cannot read kube-system/kubeadm-config"
    cp "$WORK/live.yaml" "$WORK/cluster.yaml"
    [[ -n $FRAGMENT ]] || return 0
    # Kept once, before the first change, for a by-hand restore of anything phase 1.5 replaced.
    mkdir -p "$WORK_DIR"
    chmod 0700 "$WORK_DIR"
    [[ -e $WORK_DIR/cluster-configuration.before-phase-1.5.yaml ]] || cp "$WORK/live.yaml" "$WORK_DIR/cluster-configuration.before-phase-1.5.yaml"
    printf '%s' "$FRAGMENT" >"$WORK/fragment.json"
    if patch_tool --check --patch "@$WORK/fragment.json" --in "$WORK/live.yaml" 2>/dev/null; then
        log "kubeadm-config already declares the flags"
        return 0
    fi
    patch_tool --patch "@$WORK/fragment.json" --in "$WORK/live.yaml" --out "$WORK/cluster.yaml" ||
        die "patch-cluster-config.py refused the fragment (above)"
    check_apiserver_volumes "$WORK/cluster.yaml"
    write_kubeadm_config "$WORK/cluster.yaml" "$WORK/upload.yaml" "$NODE" "$ADDRESS" "$BIND_PORT"
    kubeadm config validate --config "$WORK/upload.yaml" >&2 ||
        die "kubeadm refuses the patched configuration (above); kubeadm-config is unchanged"
    UPLOAD=true
}

# Uploads the patched ClusterConfiguration, once the regeneration is known to lose nothing.
upload_cluster_configuration() {
    $UPLOAD || return 0
    kubeadm init phase upload-config kubeadm --config "$WORK/upload.yaml" >&2 ||
        die "kubeadm init phase upload-config kubeadm failed"
    say "kubeadm-config patched and uploaded through kubeadm"
}

# ---- regeneration ---------------------------------------------------------------------------

running_id() { crictl ps --name "^$(container_of "$1")\$" --state running -q 2>/dev/null | head -n 1; }
healthy() {
    case $1 in
        apiserver) [[ $(curl -ks --max-time 5 "https://127.0.0.1:${BIND_PORT}/readyz" || true) == ok ]] ;;
        etcd) [[ $(curl -s --max-time 5 "$ETCD_HEALTH_URL" || true) == *'"health":"true"'* ]] ;;
    esac
}
restarted_healthy() { local now; now=$(running_id "$1"); [[ -n $now && $now != "$2" ]] && healthy "$1"; }

# Regenerates one component's manifest; waits for its new container and health, or puts the
# previous manifest back and fails. On a master that joined, kubeadm's `init phase etcd local`
# writes --initial-cluster with this member alone and no --initial-cluster-state=existing; etcd
# reads both only while its data directory is empty, so a running member is not affected.
regenerate() {
    local component=$1 file before config
    file=$(manifest_of "$component")
    before=$(running_id "$component")
    config="$WORK/kubeadm.yaml"
    write_kubeadm_config "$WORK/cluster.yaml" "$config" "$NODE" "$ADDRESS" "$BIND_PORT"
    case $component in
        etcd) kubeadm init phase etcd local --config "$config" >&2 ;;
        apiserver) kubeadm init phase control-plane apiserver --config "$config" >&2 ;;
    esac
    if cmp -s "$file" "$BACKUP/$(basename "$file")"; then
        say "$component: kubeadm wrote the same manifest; nothing to restart"
        return
    fi
    say "$component: manifest regenerated; waiting up to ${TIMEOUT}s for it to restart healthy"
    if ! wait_until "$TIMEOUT" "$component to restart healthy" restarted_healthy "$component" "$before"; then
        cp -p "$BACKUP/$(basename "$file")" "$file"
        wait_until "$TIMEOUT" "$component to recover" healthy "$component" || true
        die "$component did not come back healthy within ${TIMEOUT}s; its previous manifest is restored (kept in $BACKUP)"
    fi
    say "$component: healthy"
}

backup_manifests() {
    BACKUP="$WORK_DIR/manifests-$(date -u +%Y%m%dT%H%M%SZ)"
    mkdir -p "$BACKUP"
    chmod 0700 "$WORK_DIR"
    cp -p "$(manifest_of apiserver)" "$(manifest_of etcd)" "$BACKUP/"
    say "previous manifests kept in $BACKUP"
}

cmd_check() {
    local status=0
    apiserver_in present || status=1
    etcd_in present || status=1
    ((status == 0)) || die "this master's flags differ from the declared set (see above)"
    say "in parity with the declared flags"
}

cmd_apply() {
    patch_cluster_configuration
    local need_apiserver=false need_etcd=false e
    apiserver_in present >/dev/null || need_apiserver=true
    etcd_in present >/dev/null || need_etcd=true
    if ! $need_apiserver && ! $need_etcd; then
        upload_cluster_configuration
        cmd_check
        say "$NODE already in parity; nothing regenerated"
        return
    fi
    for e in "${EXPECT_APISERVER[@]}"; do
        # The apiserver does not start without its audit policy: it is copied before this runs.
        if [[ ${e%%=*} == audit-policy-file && ! -r ${e#*=} ]]; then die "audit policy ${e#*=} is not on $NODE yet"; fi
    done
    for e in "${EXPECT_APISERVER[@]}" "${EXPECT_ETCD[@]}"; do
        grep -q -- "${e%%=*}" "$WORK/cluster.yaml" || die "kubeadm-config does not declare ${e%%=*}: give --fragment, or patch kubeadm-config first"
    done
    local -a regenerating=()
    if $need_etcd; then regenerating+=(etcd); fi
    if $need_apiserver; then regenerating+=(apiserver); fi
    refuse_losses "${regenerating[@]}"
    upload_cluster_configuration
    backup_manifests
    if $need_etcd; then regenerate etcd; fi
    if $need_apiserver; then regenerate apiserver; fi
    cmd_check
}

# Regenerates both components from the ClusterConfiguration without the flags. A flag may stay
# with kubeadm's own default (etcd's snapshot-count is 10000 either way), so what is left is
# reported, not refused; a second run finds the same manifests and restarts nothing.
cmd_revert() {
    patch_cluster_configuration
    refuse_losses etcd apiserver
    upload_cluster_configuration
    backup_manifests
    regenerate etcd
    regenerate apiserver
    apiserver_in absent || true
    etcd_in absent || true
    say "$NODE regenerated without the declared flags (any still listed above is kubeadm's default)"
}

main() {
    parse_args "$@"
    if [[ $ACTION == check ]]; then cmd_check; return; fi
    require_root
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/control-plane-flags.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
    PATCH_TOOL=$(shipped_file patch-cluster-config.py "$(script_dir)/../kubeadm" "$WORK")
    if [[ $ACTION == apply ]]; then cmd_apply; else cmd_revert; fi
}

main "$@"
