/**
 * STAND-INS for what a real cluster runs besides the apiserver and etcd, each declared and kept
 * to the one behaviour a test needs (no kube-controller-manager, kubelet or nodes run here):
 *   - nodes: Node objects created and their status patched through the API, as kubelets would;
 *   - the garbage collector: an object deleted in the foreground loses its foregroundDeletion
 *     finalizer once nothing it owns is left (the engine deletes that way and waits);
 *   - the DaemonSet controller: a DaemonSet with no schedulable pods is marked rolled out;
 *   - the kubelet's exec: `kubectl exec etcd-<node> -- CMD` runs CMD in that master's namespaces,
 *     after asking the apiserver whether the caller may (RBAC is the real one);
 *   - the kubelet running a Job's pod: its containers' commands in order on a master, with its
 *     volumes at their paths.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import type { ControlPlane, Master } from "./controlPlane";
import { RunResult, sleep } from "./processes";

type Json = Record<string, any>;

export const CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane";

/** Node objects for masters, Ready, at a kubelet version, with their InternalIP (as a kubelet registers them). */
export async function registerNodes(cp: ControlPlane, nodes: readonly { name: string; ip: string; controlPlane: boolean }[], kubeletVersion: string): Promise<void> {
    for (const n of nodes) {
        const node = {
            apiVersion: "v1",
            kind: "Node",
            metadata: { name: n.name, labels: { "kubernetes.io/hostname": n.name, ...(n.controlPlane ? { [CONTROL_PLANE_LABEL]: "" } : {}) } },
            spec: n.controlPlane ? { taints: [{ key: CONTROL_PLANE_LABEL, effect: "NoSchedule" }] } : {},
        };
        await cp.kubectlOk(["apply", "-f", "-"], { input: JSON.stringify(node) });
        await setNodeStatus(cp, n.name, { ready: "True", kubeletVersion, ip: n.ip });
    }
}

/** Patches a Node's status the way its kubelet reports it. */
export async function setNodeStatus(cp: ControlPlane, name: string, s: { ready: "True" | "False" | "Unknown"; kubeletVersion?: string; ip?: string }): Promise<void> {
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const status: Json = {
        conditions: [{ type: "Ready", status: s.ready, reason: s.ready === "True" ? "KubeletReady" : "KubeletNotReady", message: "set by the test", lastHeartbeatTime: now, lastTransitionTime: now }],
    };
    if (s.kubeletVersion) status.nodeInfo = { kubeletVersion: `v${s.kubeletVersion.replace(/^v/, "")}`, kubeProxyVersion: "", machineID: "", systemUUID: "", bootID: "", kernelVersion: "", osImage: "", containerRuntimeVersion: "", operatingSystem: "linux", architecture: "amd64" };
    if (s.ip) status.addresses = [{ type: "InternalIP", address: s.ip }, { type: "Hostname", address: name }];
    await cp.kubectlOk(["patch", "node", name, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);
}

/** A loop while `body` runs; stopped before returning, whatever happens. */
async function whileRunning<T>(loop: () => Promise<void>, body: () => Promise<T>, intervalMs = 500): Promise<T> {
    let running = true;
    const background = (async () => {
        while (running) {
            await loop().catch(() => undefined);
            await sleep(intervalMs);
        }
    })();
    try {
        return await body();
    } finally {
        running = false;
        await background;
    }
}

/**
 * STAND-IN garbage collector, while `body` runs: objects of `kinds` with a deletionTimestamp and
 * the foregroundDeletion finalizer, owning nothing, lose the finalizer (what kube-controller-
 * manager's garbage collector does once the dependents are gone).
 */
export function withGarbageCollector<T>(cp: ControlPlane, kinds: readonly string[], body: () => Promise<T>): Promise<T> {
    return whileRunning(async () => {
        const list = await cp.kubectlJson(["get", kinds.join(","), "-A"]);
        const owners = new Set<string>();
        for (const o of list.items as Json[]) for (const ref of o.metadata.ownerReferences ?? []) owners.add(ref.uid);
        for (const o of list.items as Json[]) {
            const m = o.metadata;
            if (!m.deletionTimestamp || !(m.finalizers ?? []).includes("foregroundDeletion") || owners.has(m.uid)) continue;
            const rest = (m.finalizers as string[]).filter((f) => f !== "foregroundDeletion");
            await cp.kubectl([...(m.namespace ? ["-n", m.namespace] : []), "patch", `${o.kind.toLowerCase()}.${o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : ""}`.replace(/\.$/, "") + `/${m.name}`, "--type=merge", "-p", JSON.stringify({ metadata: { finalizers: rest.length ? rest : null } })]);
        }
    }, body);
}

/**
 * STAND-IN DaemonSet controller for one DaemonSet, while `body` runs: with no node running its
 * pods, each new generation is observed and reported rolled out (0 of 0 scheduled).
 */
export function withDaemonSetController<T>(cp: ControlPlane, namespace: string, name: string, body: () => Promise<T>): Promise<T> {
    return whileRunning(async () => {
        const ds = await cp.kubectlJson(["-n", namespace, "get", "daemonset", name]);
        if ((ds.status?.observedGeneration ?? 0) >= ds.metadata.generation) return;
        const status = { observedGeneration: ds.metadata.generation, currentNumberScheduled: 0, desiredNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0, updatedNumberScheduled: 0, numberAvailable: 0 };
        await cp.kubectlOk(["-n", namespace, "patch", "daemonset", name, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);
    }, body, 250);
}

/**
 * STAND-IN for the kubelet's exec, as a `kubectl` first on PATH in `dir`: `kubectl ... exec
 * etcd-<node> -- CMD...` asks the apiserver (`auth can-i`, with the caller's credentials)
 * whether the caller may get that pod and create its exec subresource, then runs CMD in that
 * master's namespaces; every other call is the real kubectl.
 */
export function writeExecStandIn(dir: string, cp: ControlPlane): string {
    mkdirSync(dir, { recursive: true });
    const hosts = cp.masters.map((m) => `[${m.name}]=${m.host.holder.pid}`).join(" ");
    const script = String.raw`#!/usr/bin/env bash
# STAND-IN for the kubelet's exec (tests/helpers/controlPlane/standIns.ts).
set -euo pipefail
real=${JSON.stringify(cp.bin.kubectl)}
declare -A holders=(${hosts})
args=("$@") ns=default pod="" global=() i=0
while ((i < ${"$"}{#args[@]})); do
    a=${"$"}{args[$i]}
    case $a in
        exec) break ;;
        -n|--namespace) ns=${"$"}{args[$((i + 1))]}; i=$((i + 2)); continue ;;
        --namespace=*) ns=${"$"}{a#--namespace=} ;;
        *) global+=("$a") ;;
    esac
    i=$((i + 1))
done
((i < ${"$"}{#args[@]})) || exec "$real" "$@"
i=$((i + 1))
while ((i < ${"$"}{#args[@]})); do
    a=${"$"}{args[$i]}
    case $a in
        --) i=$((i + 1)); break ;;
        -n|--namespace) ns=${"$"}{args[$((i + 1))]}; i=$((i + 2)); continue ;;
        -*) ;;
        *) [[ -z $pod ]] && pod=$a ;;
    esac
    i=$((i + 1))
done
cmd=("${"$"}{args[@]:$i}")
node=${"$"}{pod#etcd-}
if [[ $ns != kube-system || $pod != etcd-* || -z ${"$"}{holders[$node]:-} ]]; then
    echo "Error from server (NotFound): pods \"$pod\" not found (stand-in exec: only the etcd pods of the test's masters)" >&2
    exit 1
fi
for verb in "get pods/$pod" "create pods/$pod --subresource=exec"; do
    # shellcheck disable=SC2086
    if [[ $("$real" "${"$"}{global[@]}" auth can-i $verb -n "$ns" 2>/dev/null) != yes ]]; then
        echo "Error from server (Forbidden): not allowed to ${"$"}{verb%% *} pods/$pod in namespace $ns (stand-in exec, asked the apiserver)" >&2
        exit 1
    fi
done
exec nsenter -t "${"$"}{holders[$node]}" -n -m -- env PATH=${JSON.stringify(cp.path)} "${"$"}{cmd[@]}"
`;
    writeFileSync(path.join(dir, "kubectl"), script);
    chmodSync(path.join(dir, "kubectl"), 0o755);
    return dir;
}

/** A kubeconfig for a service account's token, reaching `master`'s apiserver from the lan. */
export async function serviceAccountKubeconfig(cp: ControlPlane, namespace: string, name: string, file: string, master: Master = cp.first): Promise<string> {
    const token = (await cp.kubectlOk(["-n", namespace, "create", "token", name, "--duration=1h"])).trim();
    const admin = await cp.kubectlOk(["config", "view", "--raw", "-o", "json"]);
    const ca = (JSON.parse(admin) as Json).clusters[0].cluster["certificate-authority-data"];
    const config = {
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "kubernetes", cluster: { server: `https://${master.ip}:6443`, "certificate-authority-data": ca } }],
        users: [{ name: `${namespace}/${name}`, user: { token } }],
        contexts: [{ name: "sa", context: { cluster: "kubernetes", user: `${namespace}/${name}` } }],
        "current-context": "sa",
    };
    writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
    return file;
}

export interface PodRun {
    readonly container: string;
    readonly result: RunResult;
}

/**
 * STAND-IN kubelet running a Job's pod on `master`: init containers then containers, in order,
 * each command (command + args, $(VAR) from its env) in the master's namespaces with the
 * toolchain's binaries, and every volume's mount path in the arguments replaced by where it is
 * on the master: a hostPath volume's path, a temp directory for an emptyDir or a ConfigMap
 * volume (its data from `configMaps`). Stops at the first container that fails, as a pod would.
 */
export async function runPodOnMaster(cp: ControlPlane, master: Master, spec: Json, configMaps: Record<string, Record<string, string>>): Promise<PodRun[]> {
    const work = mkdtempSync(path.join(cp.dir, "pod-"));
    try {
        const volumeDirs = new Map<string, string>();
        for (const v of spec.volumes ?? []) {
            if (v.hostPath) {
                // The master's own path, wherever the container mounts it.
                volumeDirs.set(v.name, v.hostPath.path);
                continue;
            }
            const d = path.join(work, v.name);
            mkdirSync(d, { recursive: true });
            if (v.configMap) {
                const data = configMaps[v.configMap.name];
                if (!data) throw new Error(`pod volume ${v.name}: no ConfigMap ${v.configMap.name} given`);
                for (const [file, text] of Object.entries(data)) writeFileSync(path.join(d, file), text, { mode: v.configMap.defaultMode ?? 0o644 });
            }
            volumeDirs.set(v.name, d);
        }
        const runs: PodRun[] = [];
        for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
            const env: Record<string, string> = {};
            for (const e of c.env ?? []) env[e.name] = e.valueFrom?.fieldRef?.fieldPath === "spec.nodeName" ? master.name : String(e.value ?? "");
            const mounts = (c.volumeMounts ?? []).filter((m: Json) => volumeDirs.has(m.name)).map((m: Json) => [m.mountPath as string, volumeDirs.get(m.name)!] as const);
            const mapPath = (arg: string) => {
                let out = arg.replace(/\$\(([A-Z_][A-Z0-9_]*)\)/g, (_, n: string) => env[n] ?? "");
                for (const [mountPath, dir] of mounts) out = out.replace(new RegExp(`(^|=)${mountPath.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}(?=/|$)`), `$1${dir}`);
                return out;
            };
            const argv = [...(c.command ?? []), ...(c.args ?? [])].map(String).map(mapPath);
            const binaries: Record<string, string> = { etcdctl: cp.bin.etcdctl, etcdutl: cp.bin.etcdutl };
            argv[0] = binaries[argv[0]] ?? argv[0];
            const result = await cp.onMaster(master, argv, { env: { ...env }, timeoutMs: 300_000 });
            runs.push({ container: c.name, result });
            if (result.code !== 0) break;
        }
        return runs;
    } finally {
        rmSync(work, { recursive: true, force: true });
    }
}
