/**
 * Every script a remote step ships, with what it needs: the libraries bundled in front of it, the
 * files it writes out and runs (embedded), the kind of host it runs on and as whom. RemoteStep
 * ships a script only through this list (shippedText), and tests/layout.test.ts holds it to
 * scripts/ and to the phase registry. In-cluster jobs mount their scripts from ConfigMaps: the
 * second way, not in this list.
 */
import { bundleScript, BundleSpec } from "./kubeadm/bundle";
import { scriptText } from "./scriptFile";
import { HAPROXY_STATS_LIB, phpBundle } from "./shipping/phpBundle";

/** Where a step runs: an existing or new master, a Proxmox node, the load balancer (pfSense or HAProxy), or where `pulumi up` runs (LocalStep). */
export type HostKind = "master" | "new-master" | "proxmox" | "load-balancer" | "local";

export interface ScriptEntry {
    readonly host: HostKind;
    /** "root": through `sudo -n` unless the SSH user is root; "user": as the SSH user. */
    readonly runAs: "root" | "user";
    /** What reads the script on stdin: `bash -s --` (the default) or `php --`. */
    readonly runner?: "bash" | "php";
    readonly libs?: readonly string[];
    readonly embed?: BundleSpec["embed"];
}

const KUBEADM_LIB = ["kubeadm/lib.sh"] as const;
const BOTH_LIBS = ["kubeadm/lib.sh", "etcd/lib.sh"] as const;

export const SCRIPT_MANIFEST = {
    "proxmox/capacity-check.sh": { host: "proxmox", runAs: "user" },
    "kubeadm/preflight.sh": { host: "master", runAs: "root", libs: BOTH_LIBS },
    "kubeadm/proxmox-snapshot.sh": { host: "proxmox", runAs: "root" },
    "kubeadm/retrofit.sh": { host: "master", runAs: "root", libs: KUBEADM_LIB, embed: ["kubeadm/patch-cluster-config.py"] },
    "kubeadm/node-ready.sh": { host: "new-master", runAs: "root", libs: KUBEADM_LIB },
    "kubeadm/reset-node-via-agent.sh": { host: "proxmox", runAs: "root", libs: KUBEADM_LIB, embed: ["kubeadm/reset-node.sh"] },
    "kubeadm/control-plane-member.sh": { host: "master", runAs: "root", libs: BOTH_LIBS },
    "kubeadm/join-material.sh": { host: "master", runAs: "root", libs: KUBEADM_LIB },
    "kubeadm/join-control-plane.sh": { host: "new-master", runAs: "root", libs: KUBEADM_LIB },
    "kubeadm/control-plane-gate.sh": { host: "master", runAs: "root", libs: BOTH_LIBS },
    "cluster/kubeconfig-server.sh": { host: "master", runAs: "root" },
    // On the existing master (phase 1.5) and on each new master before its join.
    "cluster/audit-policy-file.sh": { host: "master", runAs: "root" },
    "cluster/node-ready-wait.sh": { host: "master", runAs: "root" },
    "cluster/control-plane-flags.sh": { host: "master", runAs: "root", libs: KUBEADM_LIB, embed: ["kubeadm/patch-cluster-config.py"] },
    "cluster/verify-etcd.sh": { host: "master", runAs: "root", libs: BOTH_LIBS },
    // pfSense has no sudo (its admin is root-equivalent); a Linux HAProxy host's socket is root's.
    "cluster/lb-pool-check.php": { host: "load-balancer", runAs: "root", runner: "php", libs: [HAPROXY_STATS_LIB] },
    "pfsense/haproxy-reconcile.php": { host: "load-balancer", runAs: "user", runner: "php", libs: [HAPROXY_STATS_LIB] },
    "haproxy/apiserver-lb.sh": { host: "load-balancer", runAs: "root" },
    "dns/vip-record.sh": { host: "local", runAs: "user" },
    "ipam/phpipam-address.sh": { host: "local", runAs: "user" },
} as const satisfies Record<string, ScriptEntry>;

export type ScriptId = keyof typeof SCRIPT_MANIFEST;

export function isScriptId(id: string): id is ScriptId {
    return Object.prototype.hasOwnProperty.call(SCRIPT_MANIFEST, id);
}

/** The entry of a script (typed loosely, for the checks that walk the list). */
export function scriptEntry(id: ScriptId): ScriptEntry {
    return SCRIPT_MANIFEST[id];
}

/**
 * The one bundler: the text a script travels as on stdin. A script that needs nothing goes as it
 * is; one with libraries or embedded files as a bundle (components/kubeadm/bundle.ts, for PHP
 * components/shipping/phpBundle.ts).
 */
export function shippedText(id: ScriptId): string {
    const entry = scriptEntry(id);
    if (!entry.libs?.length && !entry.embed?.length) return scriptText(id);
    if (entry.runner === "php") return phpBundle({ libs: entry.libs ?? [], main: id });
    return bundleScript({ ...(entry.libs ? { libs: entry.libs } : {}), ...(entry.embed ? { embed: entry.embed } : {}), main: id });
}
