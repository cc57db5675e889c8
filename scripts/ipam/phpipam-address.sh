#!/usr/bin/env bash
# Registers one address in phpIPAM, or removes it, through phpIPAM's REST API: idempotent, and
# touching only records whose description carries this stack's marker.
#
#   phpipam-address.sh add    ARGS   the address in the section's subnet that holds it, with this
#                                    hostname and description (created, or a record of ours corrected)
#   phpipam-address.sh delete ARGS   remove the record if it is ours; someone else's is left alone
#   ARGS: --url URL --app-id ID --section NAME --ip IPV4 --hostname FQDN --description TEXT
#         --marker TEXT [--timeout 20] [--insecure | --ca-file FILE]
#
# The API app (Administration > API) uses security "SSL with App code token" and read/write
# permission; its app code is read from stdin, never from an argument, goes into a header file
# with mode 600 in a private temp dir removed on exit, and is never printed.
#   printf '%s' "$APP_CODE" | phpipam-address.sh add --url https://ipam.lab --app-id hacp \
#       --section 'K8s cluster' --ip 10.0.20.99 --hostname k8s-apiserver.lab.example \
#       --description 'Kubernetes apiserver VIP [managed by ha-control-plane/lab]' \
#       --marker '[managed by ha-control-plane/lab]'
# Output: one line per change ("+", "~", "-"), or "no change: ..." / "left alone: ...".
# Exit: 0 done (changed or not), 1 phpIPAM refused or did not answer, 2 bad input or phpIPAM
# lacks the section or subnet, 3 the address is registered, but not by this stack.
set -euo pipefail

fail() { local code=$1; shift; echo "phpipam-address: $*" >&2; exit "$code"; }
usage() { fail 2 "$*"; }

[[ $# -ge 1 ]] || usage "an action is required: add | delete"
action=$1; shift
case $action in add | delete) ;; *) usage "unknown action '$action'" ;; esac

url="" app_id="" section="" ip="" hostname="" description="" marker="" timeout=20 insecure=0 ca_file=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --url) url=${2:-}; shift 2 ;;
        --app-id) app_id=${2:-}; shift 2 ;;
        --section) section=${2:-}; shift 2 ;;
        --ip) ip=${2:-}; shift 2 ;;
        --hostname) hostname=${2:-}; shift 2 ;;
        --description) description=${2:-}; shift 2 ;;
        --marker) marker=${2:-}; shift 2 ;;
        --timeout) timeout=${2:-}; shift 2 ;;
        --insecure) insecure=1; shift ;;
        --ca-file) ca_file=${2:-}; shift 2 ;;
        *) usage "unknown argument '$1'" ;;
    esac
done
[[ $url =~ ^https://[^[:space:]/]+(/[^[:space:]]*)?$ ]] || usage "--url must be phpIPAM's https:// URL"
[[ $app_id =~ ^[A-Za-z0-9_-]{3,32}$ ]] || usage "--app-id must be the API app's id (Administration > API)"
[[ -n $section ]] || usage "--section must name the phpIPAM section"
[[ $ip =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || usage "--ip must be an IPv4 address"
[[ $hostname =~ ^[A-Za-z0-9.-]+$ ]] || usage "--hostname must be a DNS name"
[[ -n $marker && $description == *"$marker"* ]] || usage "--description must carry the --marker (it is how this stack knows its records)"
[[ $timeout =~ ^[0-9]+$ && $timeout -gt 0 ]] || usage "--timeout must be a positive whole number"
[[ -z $ca_file || -r $ca_file ]] || usage "--ca-file $ca_file is not a readable file"
for tool in curl jq; do
    command -v "$tool" > /dev/null || usage "needs curl and jq where pulumi up runs (Debian: apt-get install curl jq)"
done

token=$(cat)
token=${token%$'\n'}
[[ -n $token ]] || usage "the app code token must come on stdin"

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
(umask 077 && printf 'token: %s\nContent-Type: application/json\n' "$token" > "$workdir/headers")
unset token

tls=()
((insecure)) && tls+=(--insecure)
[[ -n $ca_file ]] && tls+=(--cacert "$ca_file")
base="${url%/}/api/$app_id"

# One request: sets $status (HTTP code) and $body (phpIPAM's JSON). Bounded by --timeout.
status="" body=""
api() {
    local method=$1 path=$2 data=${3:-} out
    local args=(-sS -X "$method" -H "@$workdir/headers" --connect-timeout 5 --max-time "$timeout" -w '\n%{http_code}' "${tls[@]}")
    [[ -n $data ]] && args+=(--data "$data")
    if ! out=$(curl "${args[@]}" "$base/$path" 2> "$workdir/curl.err"); then
        fail 1 "phpIPAM at $url did not answer $method /api/$app_id/$path: $(tr '\n' ' ' < "$workdir/curl.err")"
    fi
    status=${out##*$'\n'}
    body=${out%$'\n'*}
}

# phpIPAM's own words for a failed request.
said() { jq -r '.message // empty' <<< "$body" 2> /dev/null || printf '%s' "${body:0:200}"; }

refused() {
    case $status in
        401 | 403) fail 1 "phpIPAM refused the token ($status: $(said)): ipam.token must be the app code of app '$app_id', whose security is 'SSL with App code token'" ;;
        *) fail 1 "phpIPAM answered $status to $1: $(said)" ;;
    esac
}

ip_number() {
    local a b c d
    IFS=. read -r a b c d <<< "$1"
    echo $(((a << 24) | (b << 16) | (c << 8) | d))
}

# The section, by name.
api GET "sections/$(jq -rn --arg s "$section" '$s | @uri')/"
[[ $status == 404 ]] && fail 2 "phpIPAM has no section '$section' (Administration > Sections): create it, or set ipam.section"
[[ $status == 200 ]] || refused "the section lookup"
section_id=$(jq -r '.data.id' <<< "$body")

# The section's subnet that holds the address (the most specific one).
api GET "sections/$section_id/subnets/"
subnets='[]'
if [[ $status == 200 ]]; then
    subnets=$(jq -c '[.data[] | select((.isFolder // "0" | tostring) != "1") | {id: (.id | tostring), subnet, mask: (.mask | tostring)}]' <<< "$body")
elif [[ $status != 404 ]]; then
    refused "the subnet list of section '$section'"
fi
want=$(ip_number "$ip")
subnet_id="" subnet_bits=-1 subnet_text=""
while IFS=$'\t' read -r id net bits; do
    [[ $net =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ && $bits =~ ^[0-9]+$ && $bits -le 32 ]] || continue
    mask=$(((0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF))
    if (((want & mask) == ($(ip_number "$net") & mask))) && ((bits > subnet_bits)); then
        subnet_id=$id subnet_bits=$bits subnet_text="$net/$bits"
    fi
done < <(jq -r '.[] | [.id, .subnet, .mask] | @tsv' <<< "$subnets")
[[ -n $subnet_id ]] || fail 2 "no subnet of phpIPAM section '$section' holds $ip: add the cluster subnet to that section first"

# The record, if any.
api GET "addresses/$ip/$subnet_id/"
case $status in
    200) record=$(jq -c '.data | if type == "array" then .[0] else . end' <<< "$body") ;;
    404) record="" ;;
    *) refused "the lookup of $ip" ;;
esac
field() { jq -r --arg f "$1" '.[$f] // "" | tostring' <<< "$record"; }
ours() { [[ $(field description) == *"$marker"* ]]; }

if [[ $action == delete ]]; then
    if [[ -z $record ]]; then
        echo "no change: $ip is not registered in $subnet_text"
    elif ! ours; then
        echo "left alone: $ip in $subnet_text is registered, but not by this stack ($(field hostname): $(field description))"
    else
        api DELETE "addresses/$(field id)/"
        [[ $status == 200 ]] || refused "the removal of $ip"
        echo "- $ip $(field hostname) from $subnet_text"
    fi
    exit 0
fi

if [[ -z $record ]]; then
    api POST "addresses/" "$(jq -cn --arg s "$subnet_id" --arg ip "$ip" --arg h "$hostname" --arg d "$description" '{subnetId: $s, ip: $ip, hostname: $h, description: $d}')"
    [[ $status == 201 ]] || refused "the registration of $ip"
    echo "+ $ip $hostname in $subnet_text (phpIPAM address id $(jq -r '.id' <<< "$body"))"
    exit 0
fi
if ! ours; then
    fail 3 "$ip is already registered in phpIPAM ($subnet_text, hostname '$(field hostname)', description '$(field description)'), but not by this stack. Free the address, or put '$marker' in that record's description to hand it over, then run again."
fi
changed=()
[[ $(field hostname) == "$hostname" ]] || changed+=(hostname)
[[ $(field description) == "$description" ]] || changed+=(description)
if ((${#changed[@]} == 0)); then
    echo "no change: $ip $hostname is registered in $subnet_text"
    exit 0
fi
api PATCH "addresses/$(field id)/" "$(jq -cn --arg h "$hostname" --arg d "$description" '{hostname: $h, description: $d}')"
[[ $status == 200 ]] || refused "the update of $ip"
echo "~ $ip $hostname in $subnet_text: ${changed[*]}"
