#!/usr/bin/env bash
# Fresh join material for one control-plane join, made on the existing master right before the
# join, so kubeadm-certs' 2-hour lifetime never matters (seed plan 2.3, 2.4, 3.3, 3.4):
#   - the control-plane certificates uploaded to kube-system/kubeadm-certs, encrypted with the
#     certificate key (`kubeadm init phase upload-certs --upload-certs --certificate-key`);
#   - the bootstrap token created with a short TTL (recreated if it exists: a fresh TTL);
#   - the CA public key hash for --discovery-token-ca-cert-hash.
# The secrets come from the environment, never from arguments, and are never printed:
#   KUBEADM_TOKEN            [a-z0-9]{6}.[a-z0-9]{16}
#   KUBEADM_CERTIFICATE_KEY  64 hex digits (32 bytes)
#
# Usage:
#   join-material.sh create --ttl DURATION [--description TEXT]
#       Prints one JSON line: {"caCertHash":"sha256:...","tokenExpires":"RFC 3339","tokenId":"..."}
#   join-material.sh revoke
#       Deletes the bootstrap token (KUBEADM_TOKEN) if it still exists.
# e.g.  sudo KUBEADM_TOKEN=... KUBEADM_CERTIFICATE_KEY=... ./join-material.sh create --ttl 30m
# Sources lib.sh. Exit 0 done, 1 failed, 2 usage.
set -euo pipefail

SCRIPT_NAME="join-material"
if ! declare -F hacp_lib_loaded >/dev/null; then
    # shellcheck source-path=SCRIPTDIR source=lib.sh
    source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

# Runs a kubeadm command whose output contains a secret; shows the output only on failure, with
# the secrets blanked out.
quiet_kubeadm() {
    local out
    if out=$(kubeadm "$@" </dev/null 2>&1); then return 0; fi
    out=${out//${KUBEADM_TOKEN:-unset-token}/[token]}
    out=${out//${KUBEADM_CERTIFICATE_KEY:-unset-key}/[certificate-key]}
    printf '%s\n' "$out" >&2
    return 1
}

token_secret_exists() { kctl -n kube-system get secret "bootstrap-token-$1" -o name >/dev/null 2>&1; }

ca_cert_hash() {
    local ca="${KUBERNETES_DIR}/pki/ca.crt" hash
    [[ -r $ca ]] || die "cannot read the cluster CA ${ca}"
    # The hash kubeadm checks: SHA-256 of the CA's DER SubjectPublicKeyInfo (RSA or ECDSA).
    hash=$(openssl x509 -in "$ca" -noout -pubkey | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1)
    [[ $hash =~ ^[0-9a-f]{64}$ ]] || die "could not hash the public key of ${ca}"
    printf 'sha256:%s' "$hash"
}

cmd_create() {
    local ttl=$1 description=$2
    [[ ${KUBEADM_CERTIFICATE_KEY:-} =~ ^[0-9a-f]{64}$ ]] || usage_error "KUBEADM_CERTIFICATE_KEY must be 64 hex digits"
    local id=${KUBEADM_TOKEN%%.*} ca_hash
    # First, so an unreadable CA stops the step before anything is uploaded or minted (and in a
    # variable: a failure inside the printf's own substitution would print material without it).
    ca_hash=$(ca_cert_hash) || exit 1
    quiet_kubeadm init phase upload-certs --upload-certs --certificate-key "$KUBEADM_CERTIFICATE_KEY" ||
        die "kubeadm init phase upload-certs failed"
    log "control-plane certificates uploaded to kube-system/kubeadm-certs"
    if token_secret_exists "$id"; then
        quiet_kubeadm token delete "$id" || die "could not delete the previous bootstrap token ${id}"
    fi
    quiet_kubeadm token create "$KUBEADM_TOKEN" --ttl "$ttl" --description "$description" ||
        die "kubeadm token create failed"
    local expires
    expires=$(kctl -n kube-system get secret "bootstrap-token-${id}" -o jsonpath='{.data.expiration}' | base64 -d) ||
        die "bootstrap token ${id} not found after kubeadm token create"
    log "bootstrap token ${id} valid until ${expires}"
    printf '{"caCertHash":"%s","tokenExpires":"%s","tokenId":"%s"}\n' "$ca_hash" "$expires" "$id"
}

cmd_revoke() {
    local id=${KUBEADM_TOKEN%%.*}
    if token_secret_exists "$id"; then
        quiet_kubeadm token delete "$id" || die "could not delete bootstrap token ${id}"
        log "deleted bootstrap token ${id}"
    else
        log "bootstrap token ${id} is already gone"
    fi
}

main() {
    [[ $# -gt 0 ]] || usage_error "create or revoke?"
    local command=$1 ttl="" description="ha-control-plane control-plane join"
    shift
    while [[ $# -gt 0 ]]; do
        case $1 in
            --ttl) ttl=$(need_value "$1" "${2-}"); shift 2 ;;
            --description) description=$(need_value "$1" "${2-}"); shift 2 ;;
            *) usage_error "unknown argument '$1'" ;;
        esac
    done
    [[ ${KUBEADM_TOKEN:-} =~ ^[a-z0-9]{6}\.[a-z0-9]{16}$ ]] || usage_error "KUBEADM_TOKEN must be [a-z0-9]{6}.[a-z0-9]{16}"
    require_root
    case $command in
        create)
            [[ $ttl =~ ^([0-9]+h)?([0-9]+m)?([0-9]+s)?$ && -n $ttl ]] || usage_error "--ttl must be a duration such as 30m"
            cmd_create "$ttl" "$description" ;;
        revoke) cmd_revoke ;;
        *) usage_error "unknown command '${command}' (create or revoke)" ;;
    esac
}

main "$@"
