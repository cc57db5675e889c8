#!/usr/bin/env bash
# Builds the tools the tests run (Pulumi CLI, language host, provider plugins,
# Kubernetes and etcd) from the Go module proxy, into a cache outside the
# repository keyed by the pins in toolchain/pins.json. A second run finds
# every piece in the cache and builds nothing.
#
#   toolchain/build.sh [piece ...]     pieces: pulumi etcd kubernetes plugins (default: all)
#
# Environment: HA_TOOLCHAIN_CACHE (default ~/.cache/ha-control-plane/toolchain).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pins="$repo/toolchain/pins.json"
cache="${HA_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ha-control-plane/toolchain}"
mkdir -p "$cache"

log() { printf 'toolchain: %s\n' "$*" >&2; }
die() { printf 'toolchain: error: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || die "go is not on PATH; the toolchain is built with Go >= $(pin go.minimum)"
command -v node >/dev/null || die "node is not on PATH"

# pin KEY.PATH -> the value in pins.json
pin() { node -e 'const p=require(process.argv[1]);let v=p;for(const k of process.argv[2].split("."))v=v?.[k];if(v===undefined)process.exit(3);process.stdout.write(String(v))' "$pins" "$1"; }

export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
# Two runs at once (a background warm-up and a test run) must not build the same piece twice.
exec 9>"$cache/.lock"
flock 9

built=()
# piece NAME DIR: true when DIR holds a finished build of NAME
finished() { [[ -f "$1/.complete" ]]; }
mark_finished() { date -u +%FT%TZ >"$1/.complete"; }

timed() { # timed LABEL DIR CMD... : runs the build, records its duration
  local label=$1 dir=$2; shift 2
  local start=$SECONDS
  log "building $label into $dir"
  "$@"
  mark_finished "$dir"
  local took=$((SECONDS - start))
  echo "$took" >"$dir/.build-seconds"
  built+=("$label (${took}s)")
  log "built $label in ${took}s"
}

wrapper_module() { # wrapper_module DIR MODULE GO_VERSION: a fresh go.mod in DIR/src
  rm -rf "$1/src" && mkdir -p "$1/src" "$1/bin"
  printf 'module %s\n\ngo %s\n' "$2" "$3" >"$1/src/go.mod"
}

# build_pinned NAME BUILDER [WHAT]: the version pins.json gives NAME, built once by
# BUILDER DIR VERSION into $cache/NAME-VERSION
build_pinned() {
  local name=$1 builder=$2 what=${3-} v; v=$(pin "$name")
  local dir="$cache/$name-$v"
  finished "$dir" && return 0
  timed "$name v$v${what:+ ($what)}" "$dir" "$builder" "$dir" "$v"
}

# --- Pulumi CLI -------------------------------------------------------------
# pkg/v3 replaces sdk/v3 with ../sdk, so `go install pkg@version` is refused:
# a wrapper module requires both at the same version.
build_pulumi_cli() {
  local v; v=$(pin pulumi.cli)
  local dir="$cache/pulumi-$v"
  finished "$dir" && return 0
  # A user's own CLI of the pinned version is used as it is.
  if command -v pulumi >/dev/null && [[ $(PULUMI_SKIP_UPDATE_CHECK=true pulumi version 2>/dev/null) == "v$v" ]]; then
    log "using $(command -v pulumi) (v$v)"
    return 0
  fi
  timed "pulumi CLI v$v" "$dir" _build_pulumi_cli "$dir" "$v"
}
_build_pulumi_cli() {
  local dir=$1 v=$2
  wrapper_module "$dir" hacp.toolchain/pulumi 1.26
  (cd "$dir/src"
    go mod edit -require="github.com/pulumi/pulumi/pkg/v3@v$v" -require="github.com/pulumi/pulumi/sdk/v3@v$v" \
      -replace=github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e
    go build -trimpath -o "$dir/bin/pulumi" \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$v" \
      github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
}

# --- etcd -------------------------------------------------------------------
build_etcd() { build_pinned etcd _build_etcd; }
_build_etcd() {
  local dir=$1 v=$2 m
  wrapper_module "$dir" hacp.toolchain/etcd 1.24
  (cd "$dir/src"
    for m in api/v3 client/pkg/v3 client/v3 pkg/v3 server/v3 etcdctl/v3 etcdutl/v3; do
      go mod edit -require="go.etcd.io/etcd/$m@v$v"
    done
    local ld="-s -w"
    go build -trimpath -ldflags "$ld" -o "$dir/bin/etcd" go.etcd.io/etcd/server/v3
    go build -trimpath -ldflags "$ld" -o "$dir/bin/etcdctl" go.etcd.io/etcd/etcdctl/v3
    go build -trimpath -ldflags "$ld" -o "$dir/bin/etcdutl" go.etcd.io/etcd/etcdutl/v3)
}

# --- Kubernetes ---------------------------------------------------------------
# k8s.io/kubernetes replaces every k8s.io staging module with ./staging/...;
# the wrapper replaces each with the matching v0.MINOR.PATCH release instead,
# taking the list from that version's own go.mod.
build_kubernetes() { build_pinned kubernetes _build_kubernetes "kube-apiserver, kubeadm, kubectl"; }
_build_kubernetes() {
  local dir=$1 v=$2
  local staging="v0.${v#*.}"
  wrapper_module "$dir" hacp.toolchain/kubernetes 1.24.0
  (cd "$dir/src"
    local upstream
    upstream=$(go mod download -json "k8s.io/kubernetes@v$v" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).GoMod))')
    printf 'godebug default=go1.24\n' >>go.mod
    go mod edit -require="k8s.io/kubernetes@v$v"
    local mod
    while read -r mod; do
      go mod edit -replace="$mod=$mod@$staging"
    done < <(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$upstream")
    local commit; commit=$(go mod download -json "k8s.io/kubernetes@v$v" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const o=JSON.parse(s).Origin;process.stdout.write(o&&o.Hash||"")})')
    local minor=${v#*.}; minor=${minor%%.*}
    local ld="-s -w" pkg
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld+=" -X $pkg.gitVersion=v$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
      ld+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
      [[ -n $commit ]] && ld+=" -X $pkg.gitCommit=$commit"
    done
    go build -trimpath -ldflags "$ld" -o "$dir/bin/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kubectl)
}

# --- Provider plugins ---------------------------------------------------------
# A plugin is built where pins.json names a module version the proxy serves; the
# others carry the proxy's refusal, printed here so a run says what is missing.
build_plugins() {
  local name
  for name in $(node -e 'process.stdout.write(Object.keys(require(process.argv[1]).plugins).join(" "))' "$pins"); do
    if [[ $(pin "plugins.$name.moduleVersion") == null ]]; then
      log "plugin $name v$(pin "plugins.$name.version"): not built, the module proxy refuses it: $(pin "plugins.$name.refused")"
      continue
    fi
    local v; v=$(pin "plugins.$name.version")
    local dir="$cache/plugin-$name-$v"
    # Already installed where the CLI looks (a user's machine): nothing to build.
    if [[ -d "${PULUMI_HOME:-$HOME/.pulumi}/plugins/resource-$name-v$v" ]] && ! finished "$dir"; then
      log "plugin $name v$v is installed already"
      continue
    fi
    finished "$dir" || timed "plugin $name v$v" "$dir" _build_plugin "$dir" "$name" "$v"
  done
}
_build_plugin() {
  local dir=$1 name=$2 v=$3
  local module modver sdk main verpkg
  module=$(pin "plugins.$name.module"); modver=$(pin "plugins.$name.moduleVersion")
  sdk=$(pin "plugins.$name.sdkModule"); main=$(pin "plugins.$name.main"); verpkg=$(pin "plugins.$name.versionPackage")
  wrapper_module "$dir" "hacp.toolchain/plugin-$name" 1.24.7
  (cd "$dir/src"
    # The provider replaces its SDK with ../sdk: require the SDK release instead.
    go mod edit -require="$module@$modver" -require="$sdk@v$v"
    local upstream
    upstream=$(go mod download -json "$module@$modver" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).Dir))')
    # The main package embeds schema-embed.json, which upstream generates from the
    # committed schema.json with the release version set: do the same here.
    mkdir -p cmd
    node -e '
      const fs = require("fs"), [src, out, version] = process.argv.slice(1);
      const schema = JSON.parse(fs.readFileSync(src + "/schema.json", "utf8"));
      schema.version = version;
      fs.writeFileSync(out + "/schema-embed.json", JSON.stringify(schema));
      fs.copyFileSync(src + "/terraform-mapping.json", out + "/terraform-mapping-embed.json");
    ' "$upstream/$main" cmd "$v"
    # The provider's entry point, as its cmd/ package has it: serve the provider
    # under its name and version with the embedded schema.
    cat >cmd/main.go <<GO
package main

import (
	_ "embed"

	"$module/pkg/provider"
	"$verpkg"
)

//go:embed schema-embed.json
var schema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() { provider.Serve("$name", version.Version, schema, terraformMapping) }
GO
    go build -trimpath -ldflags "-s -w -X $verpkg.Version=$v" -o "$dir/bin/pulumi-resource-$name" ./cmd)
}

pieces=("$@")
[[ ${#pieces[@]} -gt 0 ]] || pieces=(pulumi etcd kubernetes plugins)
for piece in "${pieces[@]}"; do
  case $piece in
    pulumi) build_pulumi_cli ;;
    etcd) build_etcd ;;
    kubernetes) build_kubernetes ;;
    plugins) [[ $(type -t build_plugins) == function ]] && build_plugins ;;
    *) die "unknown piece '$piece' (pieces: pulumi etcd kubernetes plugins)" ;;
  esac
done

if [[ ${#built[@]} -eq 0 ]]; then
  log "everything is in $cache already; nothing built"
else
  log "built: ${built[*]}"
fi
