#!/usr/bin/env bash
# Installs or removes the apiserver audit policy on a master (phase 1.5 and before each join).
# The program copies the policy over SFTP to a staging file as the SSH user; this puts it in
# place root-owned, or removes it (the delete of that step).
#
# Usage: audit-policy-file.sh install --staged FILE --path PATH
#        audit-policy-file.sh remove  --staged FILE --path PATH
#
# Idempotent: install over the same content rewrites it; remove of a missing file is a no-op.
# Exit 0 = done, 1 = failed, 2 = usage.
set -euo pipefail

# Everything runs from main, so bash has read the whole script before the first command (it
# arrives on stdin).
main() {
    usage_error() { echo "audit-policy-file: $* (see the usage at the top of the script)" >&2; exit 2; }

    action=${1:-} staged="" path=""
    shift || true
    while [[ $# -gt 0 ]]; do
        case $1 in
            --staged) staged=${2:-}; shift 2 ;;
            --path) path=${2:-}; shift 2 ;;
            *) usage_error "unknown argument '$1'" ;;
        esac
    done
    [[ $path == /* && $staged == /* ]] || usage_error "--staged and --path must be absolute paths"
    case $action in
        install)
            [[ -s $staged ]] || { echo "audit-policy-file: FAILED: staged policy $staged is missing or empty" >&2; exit 1; }
            install -D -m 0600 -o root -g root "$staged" "$path"
            rm -f "$staged"
            echo "audit-policy-file: installed $path"
            ;;
        remove)
            rm -f "$path" "$staged"
            echo "audit-policy-file: removed $path"
            ;;
        *) usage_error "first argument must be install or remove" ;;
    esac
}

main "$@"
