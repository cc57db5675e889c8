#!/usr/bin/env bash
# Points a kubeconfig's cluster server at another URL, in a file on this host (kubelet.conf) or
# inside a ConfigMap (kube-public/cluster-info, kube-system/kube-proxy), and puts it back.
# Phase 4 uses it to move clients to the apiserver VIP; the resources' delete runs --restore.
#
# Usage:
#   kubeconfig-server.sh TARGET --to URL --from URL [--from URL ...] [RESTART] [--wait-readyz] [--timeout S]
#   kubeconfig-server.sh TARGET --restore [RESTART] [--wait-readyz] [--timeout S]
#   kubeconfig-server.sh TARGET --check URL
# TARGET:  --file PATH | --configmap NS/NAME
# RESTART: --restart-kubelet (with --file) | --restart-daemonset NS/NAME (with --configmap)
#
# The server is rewritten only when it is one of the --from URLs (or already --to); any other
# value refuses the run, so an endpoint this script does not know is never clobbered. Before
# rewriting, it records the previous and the new URL (file mode: PATH.pre-cutover next to the
# file; ConfigMap mode: key NAMESPACE.NAME of the ConfigMap kube-system/ha-control-plane-cutover,
# which `kubeadm upgrade apply` leaves alone, while it re-creates the kube-proxy ConfigMap from
# its template and drops any annotation; a record in the annotation ha-control-plane/pre-cutover,
# where earlier versions kept it, is still read), and --restore puts exactly
# that previous URL back and drops the record; without a record --restore changes nothing, so
# a target this script never changed is left alone. Idempotent: a second run changes nothing and
# restarts nothing. The kubelet restarts when its file changed, or when it has been running
# since before the file's last change; a DaemonSet rolls by stamping the server into its pod
# template (annotation ha-control-plane/kubeconfig-server), which also records that it rolled.
# --wait-readyz first waits for <new URL>/readyz to answer "ok" against the cluster CA, so
# nothing is pointed at an endpoint that does not serve.
#
# Environment: KUBECONFIG (ConfigMap mode; default /etc/kubernetes/admin.conf), CLUSTER_CA
# (/etc/kubernetes/pki/ca.crt), KUBELET_HEALTHZ_URL (http://127.0.0.1:10248/healthz),
# POLL_SECONDS (5). Root in file mode. Exit 0 = done or already so, 1 = refused or failed,
# 2 = usage.
set -euo pipefail

# Everything runs from main, so bash has read the whole script before the first command (it
# arrives on stdin).
main() {
    usage_error() { echo "kubeconfig-server: $* (see the usage at the top of the script)" >&2; exit 2; }
    die() { echo "kubeconfig-server: FAILED: $*" >&2; exit 1; }
    log() { echo "kubeconfig-server: $*"; }

    URL_RE='^https://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(:[0-9]+)?$'
    RECORD_ANNOTATION=ha-control-plane/pre-cutover
    RECORDS_NAMESPACE=kube-system
    RECORDS_CONFIGMAP=ha-control-plane-cutover
    ROLL_ANNOTATION=ha-control-plane/kubeconfig-server

    file="" configmap="" to="" check="" restore=false restart_kubelet=false restart_ds="" wait_readyz=false timeout=180
    froms=()
    while [[ $# -gt 0 ]]; do
        case $1 in
            --file) file=${2:-}; shift 2 ;;
            --configmap) configmap=${2:-}; shift 2 ;;
            --from) froms+=("${2:-}"); shift 2 ;;
            --to) to=${2:-}; shift 2 ;;
            --restore) restore=true; shift ;;
            --check) check=${2:-}; shift 2 ;;
            --restart-kubelet) restart_kubelet=true; shift ;;
            --restart-daemonset) restart_ds=${2:-}; shift 2 ;;
            --wait-readyz) wait_readyz=true; shift ;;
            --timeout) timeout=${2:-}; shift 2 ;;
            *) usage_error "unknown argument '$1'" ;;
        esac
    done
    if [[ -n $file && -n $configmap ]] || [[ -z $file && -z $configmap ]]; then usage_error "give exactly one of --file or --configmap"; fi
    modes=0
    [[ -n $to ]] && modes=$((modes + 1))
    $restore && modes=$((modes + 1))
    [[ -n $check ]] && modes=$((modes + 1))
    ((modes == 1)) || usage_error "give exactly one of --to (with --from), --restore or --check"
    if [[ -n $to ]]; then
        [[ $to =~ $URL_RE ]] || usage_error "--to must be an https URL without a path (got '$to')"
        ((${#froms[@]} > 0)) || usage_error "--to needs at least one --from"
        for f in "${froms[@]}"; do
            [[ $f =~ $URL_RE ]] || usage_error "--from must be an https URL without a path (got '$f')"
            [[ $f != "$to" ]] || usage_error "--from $f is the --to URL"
        done
    fi
    [[ -z $check || $check =~ $URL_RE ]] || usage_error "--check must be an https URL without a path (got '$check')"
    [[ $timeout =~ ^[0-9]+$ ]] || usage_error "--timeout must be seconds"
    [[ -z $configmap || $configmap =~ ^[a-z0-9-]+/[a-z0-9.-]+$ ]] || usage_error "--configmap must be NAMESPACE/NAME"
    [[ -z $restart_ds || $restart_ds =~ ^[a-z0-9-]+/[a-z0-9.-]+$ ]] || usage_error "--restart-daemonset must be NAMESPACE/NAME"
    [[ $restart_kubelet == false || -n $file ]] || usage_error "--restart-kubelet goes with --file"
    [[ -z $restart_ds || -n $configmap ]] || usage_error "--restart-daemonset goes with --configmap"

    export KUBECONFIG=${KUBECONFIG:-/etc/kubernetes/admin.conf}
    cluster_ca=${CLUSTER_CA:-/etc/kubernetes/pki/ca.crt}
    kubelet_healthz=${KUBELET_HEALTHZ_URL:-http://127.0.0.1:10248/healthz}
    poll=${POLL_SECONDS:-5}
    kubectl_() { kubectl --request-timeout=30s "$@" </dev/null; }

    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT

    # The one server URL of a kubeconfig (or of a ConfigMap's YAML, where the kubeconfig is a block
    # scalar): the value of its `server:` lines, unquoted. Refuses none, or several different ones.
    server_of() {
        local what=$1 path=$2
        local -a servers
        mapfile -t servers < <(sed -nE "s/^[[:space:]]*server:[[:space:]]*[\"']?([^\"'[:space:]]+)[\"']?[[:space:]]*\$/\\1/p" "$path" | sort -u)
        ((${#servers[@]} > 0)) || die "$what has no server: line"
        ((${#servers[@]} == 1)) || die "$what names several servers (${servers[*]}): refusing to guess which to change"
        printf '%s' "${servers[0]}"
    }

    # rewrite FROM TO IN: the server lines equal to FROM become TO; indentation and quoting kept.
    rewrite() {
        local from_re
        from_re=$(printf '%s' "$1" | sed 's/[].[*^$\\/#]/\\&/g')
        sed -E "s#^([[:space:]]*server:[[:space:]]*)([\"']?)${from_re}([\"']?)([[:space:]]*)\$#\\1\\2${2}\\3\\4#" "$3"
    }

    # wait_for WHAT COMMAND...: bounded by --timeout.
    wait_for() {
        local what=$1 deadline=$((SECONDS + timeout))
        shift
        until "$@"; do
            ((SECONDS < deadline)) || die "gave up after ${timeout}s waiting for $what"
            sleep "$poll"
        done
    }
    readyz_ok() { [[ $(curl -fsS --max-time 5 --cacert "$cluster_ca" "$1/readyz" 2>/dev/null || true) == ok ]]; }
    kubelet_ok() { [[ $(curl -fsS --max-time 5 "$kubelet_healthz" 2>/dev/null || true) == ok ]]; }

    # Decides the move: sets `new` (the URL to write) and `old` (the URL it replaces), or leaves
    # `new` empty when there is nothing to do. `current` and `record` ("OLD NEW" or empty) are given.
    plan_move() {
        local what=$1 current=$2 record=$3 f
        new="" old=""
        if $restore; then
            if [[ -z $record ]]; then log "$what: no cut-over record, nothing to restore"; return; fi
            local prev=${record%% *} set=${record#* }
            if [[ $current == "$prev" ]]; then log "$what: already back at $prev"; return; fi
            [[ $current == "$set" ]] || die "$what names server $current, not $set as the cut-over left it: refusing to restore over it"
            old=$current new=$prev
            return
        fi
        if [[ $current == "$to" ]]; then log "$what: already at $to"; return; fi
        for f in "${froms[@]}"; do
            if [[ $current == "$f" ]]; then old=$current new=$to; return; fi
        done
        die "$what names server $current, which is none of ${froms[*]} (nor $to): refusing to touch it"
    }

    flip_file() {
        [[ -f $file ]] || die "$file does not exist"
        local current record="" changed=false
        current=$(server_of "$file" "$file")
        if [[ -n $check ]]; then
            [[ $current == "$check" ]] || die "$file points at $current, not $check"
            log "$file: server $current"
            return
        fi
        local record_file="$file.pre-cutover"
        [[ -f $record_file ]] && record=$(<"$record_file")
        plan_move "$file" "$current" "$record"
        if [[ -n $new ]]; then
            if $wait_readyz; then wait_for "$new/readyz" readyz_ok "$new"; fi
            # Record first, so an interrupted run can still be restored.
            if ! $restore; then printf '%s %s\n' "$old" "$new" >"$record_file"; fi
            # Same directory, so the rename is atomic; same owner and mode as the original.
            local tmp
            tmp=$(mktemp "$file.XXXXXX")
            rewrite "$old" "$new" "$file" >"$tmp"
            chmod --reference="$file" "$tmp"
            chown --reference="$file" "$tmp" 2>/dev/null || true
            mv -f "$tmp" "$file"
            if $restore; then rm -f "$record_file"; fi
            changed=true
            log "$file: server $old -> $new"
        elif $restore; then
            rm -f "$record_file"
        fi
        if $restart_kubelet && { $changed || kubelet_started_before "$file"; }; then
            systemctl restart kubelet
            log "kubelet restarted"
            wait_for "the kubelet's healthz" kubelet_ok
            log "kubelet healthy"
        fi
    }

    # The kubelet reads its kubeconfig at start: it must have started after the file's last change.
    kubelet_started_before() {
        local since since_s
        since=$(systemctl show -p ActiveEnterTimestamp --value kubelet 2>/dev/null || true)
        [[ -n $since && $since != n/a ]] || return 0
        since_s=$(date -d "$since" +%s 2>/dev/null) || return 0
        ((since_s < $(stat -c %Y "$1")))
    }

    flip_configmap() {
        local ns=${configmap%%/*} name=${configmap#*/} current record
        read_cm() { kubectl_ -n "$ns" get configmap "$name" -o yaml >"$work/cm.yaml" || die "cannot read configmap $configmap"; }
        read_cm
        current=$(server_of "configmap $configmap" "$work/cm.yaml")
        if [[ -n $check ]]; then
            [[ $current == "$check" ]] || die "configmap $configmap points at $current, not $check"
            log "configmap $configmap: server $current"
            return
        fi
        local record_key="${ns}.${name}" legacy
        record=$(kubectl_ -n "$RECORDS_NAMESPACE" get configmap "$RECORDS_CONFIGMAP" -o "go-template={{with .data}}{{index . \"$record_key\"}}{{end}}" 2>/dev/null || true)
        [[ $record == "<no value>" ]] && record=""
        # `with`: an object without any annotation has none to index (kubectl fails on nil).
        legacy=$(kubectl_ -n "$ns" get configmap "$name" -o "go-template={{with .metadata.annotations}}{{index . \"$RECORD_ANNOTATION\"}}{{end}}" 2>/dev/null || true)
        [[ $legacy == "<no value>" ]] && legacy=""
        [[ -n $record ]] || record=$legacy
        plan_move "configmap $configmap" "$current" "$record"
        if [[ -n $new ]]; then
            if $wait_readyz; then wait_for "$new/readyz" readyz_ok "$new"; fi
            if ! $restore; then
                # Record first, so an interrupted run can still be restored.
                kubectl_ -n "$RECORDS_NAMESPACE" create configmap "$RECORDS_CONFIGMAP" >/dev/null 2>&1 || true
                kubectl_ -n "$RECORDS_NAMESPACE" patch configmap "$RECORDS_CONFIGMAP" --type merge -p "{\"data\":{\"$record_key\":\"$old $new\"}}" >/dev/null ||
                    die "cannot record the cut-over of $configmap in configmap $RECORDS_NAMESPACE/$RECORDS_CONFIGMAP"
            fi
            rewrite "$old" "$new" "$work/cm.yaml" >"$work/new.yaml"
            # replace carries the resourceVersion just read: a concurrent change fails, never merges.
            kubectl_ replace -f "$work/new.yaml" >/dev/null || die "could not replace configmap $configmap (changed meanwhile? run again)"
            log "configmap $configmap: server $old -> $new"
        fi
        if $restore && [[ -n $record ]]; then
            if [[ -n $legacy ]]; then
                kubectl_ -n "$ns" annotate configmap "$name" "$RECORD_ANNOTATION-" >/dev/null || die "cannot drop the cut-over record on configmap $configmap"
            fi
            if [[ -n $(kubectl_ -n "$RECORDS_NAMESPACE" get configmap "$RECORDS_CONFIGMAP" -o "go-template={{with .data}}{{index . \"$record_key\"}}{{end}}" 2>/dev/null | grep -v '^<no value>$' || true) ]]; then
                kubectl_ -n "$RECORDS_NAMESPACE" patch configmap "$RECORDS_CONFIGMAP" --type json -p "[{\"op\":\"remove\",\"path\":\"/data/$record_key\"}]" >/dev/null ||
                    die "cannot drop the cut-over record of $configmap from configmap $RECORDS_NAMESPACE/$RECORDS_CONFIGMAP"
            fi
        fi
        if [[ -n $restart_ds ]]; then
            local dns=${restart_ds%%/*} dname=${restart_ds#*/} stamped want
            want=$(server_of "configmap $configmap" "$work/cm.yaml")
            [[ -n $new ]] && want=$new
            stamped=$(kubectl_ -n "$dns" get daemonset "$dname" -o "go-template={{index .spec.template.metadata.annotations \"$ROLL_ANNOTATION\"}}" 2>/dev/null || true)
            if [[ $stamped != "$want" ]] && { [[ -n $new ]] || [[ $stamped != "<no value>" && -n $stamped ]]; }; then
                kubectl_ -n "$dns" patch daemonset "$dname" --type merge \
                    -p "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"$ROLL_ANNOTATION\":\"$want\"}}}}}" >/dev/null ||
                    die "could not roll daemonset $restart_ds"
                log "daemonset $restart_ds: rolling to pick up $want"
            fi
            kubectl --request-timeout=0 -n "$dns" rollout status "daemonset/$dname" --timeout="${timeout}s" </dev/null ||
                die "daemonset $restart_ds did not roll out within ${timeout}s"
        fi
    }

    if [[ -n $file ]]; then flip_file; else flip_configmap; fi
}

main "$@"
