#!/usr/bin/env bash
# Phase 0 on the existing master (seed plan 0.2 to 0.6): make it able to lead an HA control plane.
#
# Usage:
#   retrofit.sh apply --node-name NAME --advertise-address IP --endpoint VIP:PORT
#                     --san SAN [--san SAN]... --backup-dir DIR [--bind-port 6443]
#                     [--readyz-timeout SECONDS] [--verify-namespace NS]...
#   retrofit.sh restore --node-name NAME --advertise-address IP --backup-dir DIR
#                     [--bind-port 6443] [--readyz-timeout SECONDS]
# Run as root on the master, e.g.:
#   sudo ./retrofit.sh apply --node-name k8s-master --advertise-address 10.0.20.100 \
#        --endpoint 10.0.20.99:6443 --san 10.0.20.99 --san k8s-apiserver.viktorbarzin.lan \
#        --backup-dir /var/lib/ha-control-plane/retrofit
# It needs patch-cluster-config.py and lib.sh next to it (the program ships both with it).
#
# apply:
#   1. Saves, once, the original ClusterConfiguration and apiserver certificate pair under
#      DIR/original (a later run never overwrites them: they are what `restore` goes back to).
#   2. Patches the live ClusterConfiguration (kube-system/kubeadm-config): controlPlaneEndpoint,
#      certSANs added to the existing ones, every other field and the apiVersion (v1beta3 or
#      v1beta4) kept; validated, then uploaded through kubeadm (`init phase upload-config
#      kubeadm`), so a later `kubeadm upgrade` keeps it. kubeadm stores what it uploads in its
#      own API version: kubeadm 1.34 turns a v1beta3 document into v1beta4.
#   3. If the certificate lacks a SAN: backs the pair up (DIR/runs/<time>), regenerates it with
#      `kubeadm init phase certs apiserver`, checks with openssl that the new SANs are there and
#      every old one is kept, restarts the kube-apiserver static pod and waits for /readyz.
#      If /readyz does not answer in time, it restores the previous pair and ClusterConfiguration
#      itself (the seed's panic procedure, 0.5), restarts kubelet, and fails.
#   4. Waits for the pods of each --verify-namespace to be Running again (warnings only).
#   A second run finds nothing to do and changes nothing.
# restore (the delete of phase 0): puts controlPlaneEndpoint and certSANs back to their original
#   values (other fields, e.g. a newer kubernetesVersion, stay) and the original certificate pair
#   back, with the same readiness wait and automatic roll-forward if the apiserver does not come up.
#   It refuses, changing nothing, when the current pair (what it rolls forward to) is missing.
# Exit 0 done, 1 failed (the message says what was restored), 2 usage.
set -euo pipefail

SCRIPT_NAME="retrofit"
if ! declare -F hacp_lib_loaded >/dev/null; then
    # shellcheck source-path=SCRIPTDIR source=lib.sh
    source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

PKI_DIR="${KUBERNETES_DIR}/pki"
RESTART_OLD_ID=""

live_cluster_configuration() {
    kctl -n kube-system get configmap kubeadm-config -o jsonpath='{.data.ClusterConfiguration}'
}

upload_cluster_configuration() {
    local cluster_config=$1 config
    config="${WORK}/kubeadm-$(date +%s%N).yaml"
    write_kubeadm_config "$cluster_config" "$config" "$NODE_NAME" "$ADVERTISE_ADDRESS" "$BIND_PORT"
    local out
    if ! out=$(kubeadm config validate --config "$config" </dev/null 2>&1); then
        if [[ $out == *"unknown command"* ]]; then
            warn "this kubeadm has no 'config validate' (before 1.26): uploading unvalidated"
        else
            printf '%s\n' "$out" >&2
            die "kubeadm refuses the new configuration (above); nothing was changed. If the cluster still stores an older API version, migrate it: kubeadm config migrate --old-config FILE --new-config FILE"
        fi
    fi
    kubeadm init phase upload-config kubeadm --config "$config" >&2 ||
        die "kubeadm init phase upload-config kubeadm failed"
}

# SANs of a certificate, one per line, as DNS:name or IP:address (nothing when it has none).
cert_sans() {
    [[ -r $1 ]] || die "cannot read certificate $1"
    { openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null || true; } | tail -n +2 | tr ',' '\n' |
        sed -e 's/^ *//' -e 's/^IP Address:/IP:/' | { grep -v '^$' || true; } | sort -u
}

san_form() { if is_ipv4 "$1"; then echo "IP:$1"; else echo "DNS:$1"; fi; }

cert_has_sans() {
    local cert=$1 san have
    shift
    have=$(cert_sans "$cert")
    for san in "$@"; do grep -qxF "$(san_form "$san")" <<<"$have" || return 1; done
}

apiserver_container() {
    crictl ps --name '^kube-apiserver$' --state running -q </dev/null | head -n1
}

restart_apiserver() {
    RESTART_OLD_ID=$(apiserver_container || true)
    if [[ -n $RESTART_OLD_ID ]]; then
        log "restarting the kube-apiserver static pod (container ${RESTART_OLD_ID:0:13})"
        crictl stop --timeout 30 "$RESTART_OLD_ID" >/dev/null </dev/null || warn "crictl stop ${RESTART_OLD_ID} failed"
    else
        warn "no running kube-apiserver container; kubelet starts it from the manifest"
    fi
}

# Ready means: a kube-apiserver container other than the one stopped, and /readyz says ok.
apiserver_ready() {
    local id
    id=$(apiserver_container 2>/dev/null || true)
    [[ -n $id && $id != "$RESTART_OLD_ID" ]] || return 1
    [[ $(kctl get --raw=/readyz 2>/dev/null) == ok ]]
}

install_pair() {
    local from=$1
    install -m 0644 "$from/apiserver.crt" "$PKI_DIR/apiserver.crt"
    install -m 0600 "$from/apiserver.key" "$PKI_DIR/apiserver.key"
}

save_pair() {
    local to=$1
    install -d -m 0700 "$to"
    cp -p "$PKI_DIR/apiserver.crt" "$PKI_DIR/apiserver.key" "$to/"
}

# Puts the pair from FROM in place and waits for the apiserver; restarts kubelet as the seed's
# panic procedure does when the container restart alone is not enough.
swap_in_and_wait() {
    local from=$1
    install_pair "$from"
    restart_apiserver
    if wait_until "$READYZ_TIMEOUT" "kube-apiserver /readyz" apiserver_ready; then return 0; fi
    log "restarting kubelet so it re-reads the static pod"
    systemctl restart kubelet </dev/null || warn "systemctl restart kubelet failed"
    wait_until "$READYZ_TIMEOUT" "kube-apiserver /readyz after the kubelet restart" apiserver_ready
}

save_original_once() {
    local original="${BACKUP_DIR}/original"
    [[ -f $original/.complete ]] && return 0
    local staging="${BACKUP_DIR}/original.partial"
    rm -rf "$staging"
    install -d -m 0700 "$staging"
    cp "${WORK}/live.yaml" "$staging/ClusterConfiguration.yaml"
    cp -p "$PKI_DIR/apiserver.crt" "$PKI_DIR/apiserver.key" "$staging/"
    date -u +%FT%TZ >"$staging/.complete"
    mv "$staging" "$original"
    log "saved the original ClusterConfiguration and apiserver certificate in ${original}"
}

wait_namespace_pods() {
    local ns=$1
    [[ -z $(kctl -n "$ns" get pods --no-headers --field-selector=status.phase!=Running,status.phase!=Succeeded 2>/dev/null) ]]
}

cmd_apply() {
    [[ -n $ENDPOINT && ${#SANS[@]} -gt 0 ]] || usage_error "apply needs --endpoint and at least one --san"
    [[ -r $PKI_DIR/apiserver.crt && -r $PKI_DIR/apiserver.key ]] ||
        die "no apiserver certificate pair in ${PKI_DIR} (apiserver.crt, apiserver.key): is this the kubeadm control-plane node ${NODE_NAME}? Nothing was changed"
    install -d -m 0700 "$BACKUP_DIR"
    live_cluster_configuration >"${WORK}/live.yaml" || die "cannot read kube-system/kubeadm-config (is the apiserver up?)"
    [[ -s ${WORK}/live.yaml ]] || die "kube-system/kubeadm-config has no ClusterConfiguration"
    save_original_once

    local patch
    patch=$(python3 -c 'import json, sys; print(json.dumps({"controlPlaneEndpoint": sys.argv[1], "apiServer": {"certSANs": sys.argv[2:]}}))' "$ENDPOINT" "${SANS[@]}")
    patch_tool --patch "$patch" --in "${WORK}/live.yaml" --out "${WORK}/desired.yaml"
    local config_changed=0
    if ! cmp -s "${WORK}/live.yaml" "${WORK}/desired.yaml"; then
        config_changed=1
        upload_cluster_configuration "${WORK}/desired.yaml"
        live_cluster_configuration >"${WORK}/uploaded.yaml"
        patch_tool --check --patch "$patch" --in "${WORK}/uploaded.yaml" ||
            die "kubeadm-config does not hold the endpoint and SANs after the upload"
        log "kubeadm-config: controlPlaneEndpoint ${ENDPOINT}, certSANs + ${SANS[*]}"
    else
        log "kubeadm-config already has controlPlaneEndpoint ${ENDPOINT} and the SANs"
    fi

    if cert_has_sans "$PKI_DIR/apiserver.crt" "${SANS[@]}"; then
        log "the apiserver certificate already carries ${SANS[*]}: no restart"
    else
        local run
        run="${BACKUP_DIR}/runs/$(date -u +%Y%m%dT%H%M%SZ)"
        save_pair "$run"
        cp "${WORK}/live.yaml" "$run/ClusterConfiguration.yaml"
        log "backed up the apiserver certificate pair in ${run}"
        write_kubeadm_config "${WORK}/desired.yaml" "${WORK}/certs.yaml" "$NODE_NAME" "$ADVERTISE_ADDRESS" "$BIND_PORT"
        rm -f "$PKI_DIR/apiserver.crt" "$PKI_DIR/apiserver.key"
        if ! kubeadm init phase certs apiserver --config "${WORK}/certs.yaml" >&2; then
            install_pair "$run"
            die "kubeadm init phase certs apiserver failed; the previous certificate is back in place (nothing restarted)"
        fi
        local old new missing
        old=$(cert_sans "$run/apiserver.crt")
        new=$(cert_sans "$PKI_DIR/apiserver.crt")
        missing=$(comm -23 <(echo "$old") <(echo "$new") | paste -sd ' ' -)
        if [[ -n $missing ]] || ! cert_has_sans "$PKI_DIR/apiserver.crt" "${SANS[@]}"; then
            install_pair "$run"
            die "the regenerated certificate lacks SANs (new: ${SANS[*]}; old ones missing: ${missing:-none}); the previous certificate is back in place (nothing restarted)"
        fi
        log "new apiserver certificate SANs: $(paste -sd ' ' - <<<"$new")"
        restart_apiserver
        if ! wait_until "$READYZ_TIMEOUT" "kube-apiserver /readyz with the new certificate" apiserver_ready; then
            warn "the apiserver did not become ready with the new certificate: restoring the previous one (seed 0.5)"
            if ! swap_in_and_wait "$run"; then
                die "the apiserver is not ready even with the previous certificate restored (${run}); investigate: crictl ps -a --name kube-apiserver; crictl logs <id>; journalctl -u kubelet"
            fi
            local restored="the previous certificate was"
            if ((config_changed)); then
                upload_cluster_configuration "$run/ClusterConfiguration.yaml"
                restored="the previous certificate and ClusterConfiguration were"
            fi
            die "the apiserver did not answer /readyz within ${READYZ_TIMEOUT}s after the certificate change; ${restored} restored and the apiserver is ready again"
        fi
        log "kube-apiserver is ready with the new certificate"
    fi

    local ns
    for ns in "${VERIFY_NAMESPACES[@]}"; do
        if wait_until "$READYZ_TIMEOUT" "pods of ${ns} to run again" wait_namespace_pods "$ns"; then
            log "pods of ${ns} are running"
        else
            warn "some pods of ${ns} are not Running: kubectl -n ${ns} get pods"
        fi
    done
    echo "retrofit: controlPlaneEndpoint=${ENDPOINT} certSANs=$(IFS=,; echo "${SANS[*]}") certificate=$(cert_sans "$PKI_DIR/apiserver.crt" | paste -sd ',' -)"
}

cmd_restore() {
    local original="${BACKUP_DIR}/original"
    if [[ ! -f $original/.complete ]]; then
        log "no backup in ${original}: phase 0 never changed this master, nothing to restore"
        return 0
    fi
    # The current pair is saved first (the way forward if the apiserver does not come up with the
    # original): without it, refuse before anything changes.
    local missing=() file
    for file in "$PKI_DIR/apiserver.crt" "$PKI_DIR/apiserver.key"; do [[ -r $file ]] || missing+=("$file"); done
    ((${#missing[@]} == 0)) ||
        die "the current apiserver certificate pair is incomplete, missing: ${missing[*]}; restore saves it before putting the original back, so nothing was changed. Put the pair back (or copy the original, ${original}/apiserver.crt and apiserver.key, into ${PKI_DIR} by hand), then run the restore again"
    live_cluster_configuration >"${WORK}/live.yaml" || die "cannot read kube-system/kubeadm-config (is the apiserver up?)"
    patch_tool --revert-from "$original/ClusterConfiguration.yaml" --paths controlPlaneEndpoint,apiServer.certSANs \
        --in "${WORK}/live.yaml" --out "${WORK}/restored.yaml"
    if ! cmp -s "${WORK}/live.yaml" "${WORK}/restored.yaml"; then
        upload_cluster_configuration "${WORK}/restored.yaml"
        log "kubeadm-config: controlPlaneEndpoint and certSANs back to their original values"
    else
        log "kubeadm-config already has the original controlPlaneEndpoint and certSANs"
    fi
    if cmp -s "$original/apiserver.crt" "$PKI_DIR/apiserver.crt" && cmp -s "$original/apiserver.key" "$PKI_DIR/apiserver.key"; then
        log "the original apiserver certificate is in place"
    else
        local run
        run="${BACKUP_DIR}/runs/restore-$(date -u +%Y%m%dT%H%M%SZ)"
        save_pair "$run"
        if ! swap_in_and_wait "$original"; then
            warn "the apiserver did not become ready with the original certificate: putting the newer one back"
            swap_in_and_wait "$run" || die "the apiserver is not ready with either certificate; investigate: crictl ps -a --name kube-apiserver; journalctl -u kubelet"
            upload_cluster_configuration "${WORK}/live.yaml"
            die "could not restore the original certificate; the newer certificate and ClusterConfiguration are back in place"
        fi
        log "the original apiserver certificate is back and the apiserver is ready"
    fi
    echo "retrofit: restored the original controlPlaneEndpoint, certSANs and apiserver certificate (backups kept in ${BACKUP_DIR})"
}

main() {
    [[ $# -gt 0 ]] || usage_error "apply or restore?"
    local command=$1
    shift
    NODE_NAME="" ADVERTISE_ADDRESS="" ENDPOINT="" BACKUP_DIR="" BIND_PORT=6443 READYZ_TIMEOUT=300
    SANS=() VERIFY_NAMESPACES=()
    while [[ $# -gt 0 ]]; do
        case $1 in
            --node-name) NODE_NAME=$(need_value "$1" "${2-}"); shift 2 ;;
            --advertise-address) ADVERTISE_ADDRESS=$(need_value "$1" "${2-}"); shift 2 ;;
            --endpoint) ENDPOINT=$(need_value "$1" "${2-}"); shift 2 ;;
            --san) SANS+=("$(need_value "$1" "${2-}")"); shift 2 ;;
            --backup-dir) BACKUP_DIR=$(need_value "$1" "${2-}"); shift 2 ;;
            --bind-port) BIND_PORT=$(need_value "$1" "${2-}"); shift 2 ;;
            --readyz-timeout) READYZ_TIMEOUT=$(need_value "$1" "${2-}"); shift 2 ;;
            --verify-namespace) VERIFY_NAMESPACES+=("$(need_value "$1" "${2-}")"); shift 2 ;;
            *) usage_error "unknown argument '$1'" ;;
        esac
    done
    [[ -n $NODE_NAME ]] || usage_error "--node-name is required"
    is_ipv4 "$ADVERTISE_ADDRESS" || usage_error "--advertise-address must be an IPv4 address"
    [[ $BACKUP_DIR == /* ]] || usage_error "--backup-dir must be an absolute path"
    [[ $READYZ_TIMEOUT =~ ^[0-9]+$ && $BIND_PORT =~ ^[0-9]+$ ]] || usage_error "--readyz-timeout and --bind-port are whole numbers"
    require_root
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/retrofit.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
    PATCH_TOOL=$(shipped_file patch-cluster-config.py "$(script_dir)" "$WORK")
    case $command in
        apply) cmd_apply ;;
        restore) cmd_restore ;;
        *) usage_error "unknown command '${command}' (apply or restore)" ;;
    esac
}

main "$@"
