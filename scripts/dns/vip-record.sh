#!/usr/bin/env bash
# Manages one A record through RFC 2136 dynamic updates signed with a TSIG key (nsupdate), as
# the VIP's name needs it: idempotent, and never touching a record it was not asked about.
# Works with any server that takes TSIG-signed updates (BIND, PowerDNS, Technitium >= 9.1).
#
#   vip-record.sh add     NAME_ARGS    ensure FQDN A IP exists (refused if FQDN has other A records)
#   vip-record.sh delete  NAME_ARGS    remove exactly FQDN A IP, if present
#   vip-record.sh restore NAME_ARGS --previous TEXT
#                                      add it back only if TEXT (an earlier delete's output)
#                                      says this script deleted it
#   (delete takes --previous too: a re-run after its own delete keeps reporting "deleted")
#   NAME_ARGS: --server HOST --zone ZONE --name FQDN --ip IPV4 --key-name NAME
#              [--port 53] [--ttl 300] [--key-algorithm hmac-sha256] [--timeout 10]
#
# The TSIG secret (base64) is read from stdin, never from an argument: it goes into a key file
# with mode 600 in a private temp dir, removed on exit, and is never printed.
#   printf '%s' "$SECRET" | vip-record.sh add --server 10.0.20.1 --zone lab.example \
#       --name k8s-apiserver.lab.example --ip 10.0.20.99 --key-name ha-control-plane
# Output: one line saying what changed ("added", "deleted", "unchanged", "absent").
# Exit: 0 done, 1 refused or failed (the zone is unchanged), 2 usage.
set -euo pipefail

die() { echo "vip-record: $*" >&2; exit 1; }
usage() { echo "vip-record: $*" >&2; exit 2; }

[[ $# -ge 1 ]] || usage "an action is required: add | delete | restore"
action=$1; shift
case $action in add | delete | restore) ;; *) usage "unknown action '$action'" ;; esac

server="" port=53 zone="" name="" ip="" ttl=300 key_name="" algorithm=hmac-sha256 timeout=10 previous=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --server) server=${2:-}; shift 2 ;;
        --port) port=${2:-}; shift 2 ;;
        --zone) zone=${2:-}; shift 2 ;;
        --name) name=${2:-}; shift 2 ;;
        --ip) ip=${2:-}; shift 2 ;;
        --ttl) ttl=${2:-}; shift 2 ;;
        --key-name) key_name=${2:-}; shift 2 ;;
        --key-algorithm) algorithm=${2:-}; shift 2 ;;
        --timeout) timeout=${2:-}; shift 2 ;;
        --previous) previous=${2:-}; shift 2 ;;
        *) usage "unknown argument '$1'" ;;
    esac
done
dns_name='^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$'
[[ $server =~ ^[A-Za-z0-9.:-]+$ ]] || usage "--server must be the DNS server's address"
[[ $zone =~ $dns_name ]] || usage "--zone must be a DNS name"
[[ $name =~ $dns_name ]] || usage "--name must be a DNS name"
[[ $key_name =~ $dns_name ]] || usage "--key-name must be the TSIG key's name"
[[ $ip =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]] || usage "--ip must be an IPv4 address"
[[ $algorithm =~ ^hmac-(md5|sha1|sha224|sha256|sha384|sha512)$ ]] || usage "--key-algorithm must be hmac-sha256 or another hmac-* TSIG algorithm"
for pair in "port:$port" "ttl:$ttl" "timeout:$timeout"; do
    [[ ${pair#*:} =~ ^[0-9]+$ && ${pair#*:} -gt 0 ]] || usage "--${pair%%:*} must be a positive whole number"
done
zone=${zone%.} name=${name%.}
[[ $name == "$zone" || $name == *".$zone" ]] || usage "--name $name is not in the zone $zone"
for tool in nsupdate dig; do
    command -v "$tool" > /dev/null || die "needs nsupdate and dig (Debian: apt-get install bind9-dnsutils)"
done

if [[ $action == restore ]]; then
    if [[ $previous != *"deleted $name A $ip"* ]]; then
        echo "unchanged: $name A $ip was not deleted by this stack, nothing to restore"
        exit 0
    fi
    action=add
fi

IFS= read -r secret || true
[[ -n ${secret:-} ]] || die "the TSIG secret must come on stdin (base64, as in the server's key definition)"
[[ $secret =~ ^[A-Za-z0-9+/]+=*$ ]] || die "the TSIG secret on stdin is not base64"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(
    umask 077
    printf 'key "%s" {\n\talgorithm %s;\n\tsecret "%s";\n};\n' "$key_name" "$algorithm" "$secret" > "$work/tsig.key"
)
unset secret

# What the server holds for the name now, asked of the server itself (not a cache).
current_a() {
    dig +norecurse +noall +answer +time=3 +tries=2 -p "$port" "@$server" "$name" A 2> "$work/dig.err" |
        awk -v n="$name." 'tolower($1) == tolower(n) && $4 == "A" { print $5 }' | sort -u ||
        die "cannot query $server:$port for $name: $(cat "$work/dig.err")"
}

update() {
    {
        printf 'server %s %s\nzone %s\n' "$server" "$port" "$zone"
        cat
        printf 'send\n'
    } > "$work/update.txt"
    if ! nsupdate -v -t "$timeout" -k "$work/tsig.key" "$work/update.txt" > "$work/nsupdate.out" 2>&1; then
        out=$(cat "$work/nsupdate.out")
        case $out in
            *NOTAUTH* | *BADSIG* | *BADKEY* | *"tsig verify failure"* | *"TSIG error"*)
                die "$server rejected the TSIG signature of key '$key_name' ($algorithm): check dns.tsigKeyName, dns.tsigAlgorithm and the secret. Nothing was changed. [${out//$'\n'/ }]" ;;
            *REFUSED*)
                die "$server refused the update to zone $zone: allow dynamic updates for it signed with key '$key_name'. Nothing was changed. [${out//$'\n'/ }]" ;;
            *NOTZONE*)
                die "$server is not authoritative for $zone (or $name is outside it). Nothing was changed. [${out//$'\n'/ }]" ;;
            *NXRRSET* | *YXRRSET*)
                die "$name changed on $server while this ran (prerequisite failed); run again. [${out//$'\n'/ }]" ;;
            *)
                die "nsupdate failed against $server:$port: ${out//$'\n'/ }" ;;
        esac
    fi
}

# A command substitution (not <(...)), so a failed query stops the script.
found=$(current_a)
records=()
if [[ -n $found ]]; then mapfile -t records <<< "$found"; fi
case $action in
    add)
        if [[ ${#records[@]} -eq 1 && ${records[0]} == "$ip" ]]; then
            echo "unchanged: $name A $ip"
            exit 0
        fi
        if [[ ${#records[@]} -gt 0 ]]; then
            die "$name already has A ${records[*]} on $server, which this stack did not set: remove them (or set cluster.vip to match) and run again"
        fi
        # nxrrset: only if the name still has no A record when the server applies it.
        printf 'prereq nxrrset %s A\nupdate add %s %s A %s\n' "$name" "$name" "$ttl" "$ip" | update
        echo "added $name A $ip (ttl $ttl)"
        ;;
    delete)
        if [[ " ${records[*]} " != *" $ip "* ]]; then
            # Re-run after an earlier delete of ours (--previous): keep saying so, for the restore.
            if [[ $previous == *"deleted $name A $ip"* ]]; then
                echo "deleted $name A $ip (by an earlier run; still absent)"
            else
                echo "absent: $name A $ip (nothing to delete)"
            fi
            exit 0
        fi
        # Only this record: other A records of the name, if any, stay.
        printf 'update delete %s A %s\n' "$name" "$ip" | update
        echo "deleted $name A $ip"
        ;;
esac
