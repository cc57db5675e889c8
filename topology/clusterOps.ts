/**
 * The cluster-wide phases' model (1.5 flag parity, 4 cut-over, 4.5 etcd maintenance, 5 kured
 * gate, 6 verification, 7 upgrade chain): the pure decisions the components and scripts share
 * (declared flags, cut-over order, quorum figures). Their config keys are topology/config/'s
 * (controlPlaneFlags, cutover, etcdMaintenance, kured, upgrade, kubernetesAccess). No Pulumi
 * resources here.
 */
import { CONTROL_PLANE_LABEL } from "./kubeadm";
import { faultTolerance, quorumOf } from "./quorum";
import type { ClusterConfig, ControlPlaneFlagsConfig, ExternalConsumer, MasterSpec, WorkerSpec } from "./types";

type Json = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Phase 1.5: the declared flags

export interface HostPathMount {
    readonly name: string;
    readonly hostPath: string;
    readonly mountPath: string;
    readonly readOnly: boolean;
    readonly pathType: "File" | "DirectoryOrCreate";
}

/** What phase 1.5 declares, flag name (without --) to value, in ClusterConfiguration terms. */
export interface DeclaredFlags {
    readonly apiServer: Readonly<Record<string, string>>;
    readonly apiServerVolumes: readonly HostPathMount[];
    readonly etcd: Readonly<Record<string, string>>;
}

export function declaredFlags(flags: ControlPlaneFlagsConfig): DeclaredFlags {
    const apiServer: Record<string, string> = {};
    const volumes: HostPathMount[] = [];
    const { oidc, audit, etcd, apiserverShutdown } = flags;
    if (oidc) {
        apiServer["oidc-issuer-url"] = oidc.issuerUrl;
        apiServer["oidc-client-id"] = oidc.clientId;
        if (oidc.usernameClaim) apiServer["oidc-username-claim"] = oidc.usernameClaim;
        if (oidc.groupsClaim) apiServer["oidc-groups-claim"] = oidc.groupsClaim;
        if (oidc.usernamePrefix) apiServer["oidc-username-prefix"] = oidc.usernamePrefix;
        if (oidc.groupsPrefix) apiServer["oidc-groups-prefix"] = oidc.groupsPrefix;
    }
    if (audit) {
        apiServer["audit-policy-file"] = audit.policyPath;
        apiServer["audit-log-path"] = `${audit.logDir}/audit.log`;
        apiServer["audit-log-maxage"] = String(audit.maxAgeDays);
        apiServer["audit-log-maxbackup"] = String(audit.maxBackups);
        apiServer["audit-log-maxsize"] = String(audit.maxSizeMiB);
        volumes.push(
            { name: audit.policyVolumeName, hostPath: audit.policyPath, mountPath: audit.policyPath, readOnly: true, pathType: "File" },
            { name: audit.logVolumeName, hostPath: audit.logDir, mountPath: audit.logDir, readOnly: false, pathType: "DirectoryOrCreate" },
        );
    }
    if (apiserverShutdown) {
        apiServer["shutdown-delay-duration"] = `${apiserverShutdown.delaySeconds}s`;
        if (apiserverShutdown.sendRetryAfter) apiServer["shutdown-send-retry-after"] = "true";
    }
    const etcdArgs: Record<string, string> = {};
    if (etcd?.autoCompactionRetention !== undefined) etcdArgs["auto-compaction-retention"] = etcd.autoCompactionRetention;
    if (etcd?.snapshotCount !== undefined) etcdArgs["snapshot-count"] = String(etcd.snapshotCount);
    return { apiServer, apiServerVolumes: volumes, etcd: etcdArgs };
}

export function hasDeclaredFlags(d: DeclaredFlags): boolean {
    return Object.keys(d.apiServer).length + Object.keys(d.etcd).length > 0;
}

/** A merge document over the declared flags and volumes: each flag's value, each volume's entry. */
function declaredDocument(d: DeclaredFlags, arg: (value: string) => unknown, volume: (v: HostPathMount) => Json): Json {
    const args = (map: Readonly<Record<string, string>>) => Object.fromEntries(Object.entries(map).map(([k, v]) => [k, arg(v)]));
    const document: Json = {};
    if (Object.keys(d.apiServer).length > 0) {
        document.apiServer = {
            extraArgs: args(d.apiServer),
            ...(d.apiServerVolumes.length > 0 ? { extraVolumes: d.apiServerVolumes.map(volume) } : {}),
        };
    }
    if (Object.keys(d.etcd).length > 0) document.etcd = { local: { extraArgs: args(d.etcd) } };
    return document;
}

/**
 * The ClusterConfiguration fragment phase 1.5 merges into kubeadm-config, in v1beta3 form
 * (extraArgs as a map); scripts/kubeadm/patch-cluster-config.py turns maps into v1beta4's
 * name/value lists and merges volumes by name.
 */
export function clusterConfigurationFragment(d: DeclaredFlags): Json {
    return declaredDocument(d, (value) => value, (v) => ({ ...v }));
}

/**
 * The document that takes phase 1.5's flags back out of the ClusterConfiguration (the patcher's
 * rules: a null extraArg is removed, a volume with $delete is removed), for its delete.
 */
export function clusterConfigurationRemoval(d: DeclaredFlags): Json {
    return declaredDocument(d, () => null, (v) => ({ name: v.name, $delete: true }));
}

/** `--component name=value` arguments for control-plane-flags.sh, sorted so runs compare equal. */
export function flagExpectations(d: DeclaredFlags): string[] {
    const pairs = (component: string, args: Readonly<Record<string, string>>) =>
        Object.keys(args).sort().flatMap((name) => [`--expect-${component}`, `${name}=${args[name]}`]);
    const mounts = d.apiServerVolumes.flatMap((v) => ["--expect-apiserver-mount", `${v.mountPath}:${v.readOnly ? "ro" : "rw"}`]);
    return [...pairs("apiserver", d.apiServer), ...mounts, ...pairs("etcd", d.etcd)];
}

// ---------------------------------------------------------------------------------------------
// Phase 4: cut-over

/** The URL every client uses after the cut-over: the VIP, not a name, so DNS is not on the path. */
export function vipServerUrl(cluster: ClusterConfig): string {
    return `https://${cluster.vip}:${cluster.apiserverPort}`;
}

/** The URL clients used before: the existing master directly. */
export function directServerUrl(existingMaster: MasterSpec, cluster: ClusterConfig): string {
    return `https://${existingMaster.ip}:${cluster.apiserverPort}`;
}

export interface CutoverNode {
    readonly name: string;
    /** Where SSH reaches the node: its IP when configured, otherwise its name in the domain. */
    readonly host: string;
    readonly role: "worker" | "master";
}

/**
 * Every node with a kubelet, workers first (the seed's 4.2), then the masters. Phase 4 flips the
 * workers' kubelets (kubeletCutoverNodes); phase 6 checks each against kubeletServerUrl.
 */
export function cutoverOrder(workers: readonly WorkerSpec[], masters: readonly MasterSpec[], domain: string): CutoverNode[] {
    return [
        ...workers.map((w): CutoverNode => ({ name: w.name, host: w.ip ?? `${w.name}.${domain}`, role: "worker" })),
        ...masters.map((m): CutoverNode => ({ name: m.name, host: m.ip, role: "master" })),
    ];
}

/**
 * The nodes whose kubelet phase 4 points at the VIP, one at a time: the workers. A control-plane
 * kubelet keeps its local apiserver: kubeadm 1.34's ControlPlaneKubeletLocalMode (beta, on by
 * default) writes a joining control-plane node's kubelet.conf with its own advertise address, and
 * `kubeadm upgrade apply|node` rewrites a kubelet.conf that names the controlPlaneEndpoint back to
 * that local address (phases/upgrade/postupgrade.go, UpdateKubeletKubeconfigServer). It also
 * keeps the control plane's own kubelets independent of the load balancer.
 */
export function kubeletCutoverNodes(workers: readonly WorkerSpec[], masters: readonly MasterSpec[], domain: string): CutoverNode[] {
    return cutoverOrder(workers, masters, domain).filter((n) => n.role === "worker");
}

/** Where a node's kubelet points once phase 4 ran: a worker at the VIP, a master at its own apiserver. */
export function kubeletServerUrl(node: CutoverNode, cluster: ClusterConfig): string {
    return node.role === "master" ? `https://${node.host}:${cluster.apiserverPort}` : vipServerUrl(cluster);
}

export interface ExternalConsumerOutput extends ExternalConsumer {
    readonly server: string;
    readonly replaces: string;
}

/** The stack output: what is left to flip by hand, with the server URL to put in. */
export function externalConsumersOutput(consumers: readonly ExternalConsumer[], server: string, replaces: string): ExternalConsumerOutput[] {
    return consumers.map((c) => ({ ...c, server, replaces }));
}

// ---------------------------------------------------------------------------------------------
// Phases 5 and 7: the control-plane quorum gate's figures

export interface ControlPlaneGateFigures {
    /** Control-plane nodes the topology plans; the gate blocks when the cluster shows another count. */
    readonly members: number;
    /** Ready control-plane nodes that must remain while one is down: quorumOf(members). */
    readonly quorum: number;
    readonly faultTolerance: number;
}

export function controlPlaneGateFigures(masters: readonly MasterSpec[]): ControlPlaneGateFigures {
    const members = masters.length;
    return { members, quorum: quorumOf(members), faultTolerance: faultTolerance(members) };
}

/** etcd static pod names (kubeadm: etcd-<node>), the only pods the gates may exec into. */
export function etcdPodNames(masters: readonly MasterSpec[]): string[] {
    return masters.map((m) => `etcd-${m.name}`);
}

// ---------------------------------------------------------------------------------------------
// The figures file the gate scripts source (gate.env, chain.env), written and read here

/** Variable names quorum-gate.sh reads from the figures file. */
export const GATE_ENV_MEMBERS = "CONTROL_PLANE_MEMBERS";
export const GATE_ENV_QUORUM = "CONTROL_PLANE_QUORUM";
/** The figures file of the kured gate's and of the upgrade chain's ConfigMap. */
export const KURED_GATE_ENV_FILE = "gate.env";
export const UPGRADE_CHAIN_ENV_FILE = "chain.env";

export function renderEnvFile(values: Readonly<Record<string, string | number>>): string {
    return Object.entries(values).map(([k, v]) => `${k}=${v}\n`).join("");
}

export function readEnvFile(text: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const line of text.split("\n")) {
        const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
        if (m) out[m[1]] = m[2];
    }
    return out;
}

/**
 * The rule for a control-plane quorum gate (kured's reboot gate, the upgrade chain's): it may
 * let a master go down only while at least quorumOf(n) control-plane nodes stay Ready, for the
 * planned n, and it must count the same n.
 */
export function checkQuorumGate(env: Readonly<Record<string, string>>, plannedMembers: number): string[] {
    const out: string[] = [];
    const members = Number(env[GATE_ENV_MEMBERS]);
    const quorum = Number(env[GATE_ENV_QUORUM]);
    const needed = quorumOf(plannedMembers);
    if (!Number.isInteger(quorum)) {
        out.push(`it sets no ${GATE_ENV_QUORUM} (got ${JSON.stringify(env[GATE_ENV_QUORUM] ?? null)}): it cannot tell when a reboot would cost etcd its quorum`);
    } else if (quorum < needed) {
        out.push(
            `it lets a master go down with only ${quorum} Ready control-plane node(s) left, but ${plannedMembers} planned etcd members need ` +
                `floor(${plannedMembers}/2)+1 = ${needed} for quorum: one more failure during the reboot would stop etcd`,
        );
    }
    if (Number.isInteger(members) && members !== plannedMembers) {
        out.push(`it counts ${members} control-plane members (${GATE_ENV_MEMBERS}) but the plan has ${plannedMembers}`);
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Pods that must run on any control-plane node (etcd backup and defrag)

interface Toleration {
    readonly key?: string;
    readonly operator?: string;
    readonly value?: string;
    readonly effect?: string;
}

/** Whether a toleration lets a pod onto a node with the control-plane NoSchedule taint (which has no value). */
function toleratesControlPlane(t: Toleration): boolean {
    const keyMatches = t.key === CONTROL_PLANE_LABEL || (t.key === undefined && t.operator === "Exists");
    const effectMatches = t.effect === undefined || t.effect === "" || t.effect === "NoSchedule";
    const valueMatches = t.operator === "Exists" || t.value === undefined || t.value === "";
    return keyMatches && effectMatches && valueMatches;
}

const HOSTNAME_LABEL = "kubernetes.io/hostname";

/**
 * The rule for a pod that must run wherever a control-plane node is up: no nodeName and no
 * hostname pin (a named master that is down would stop it), the control-plane label as
 * nodeSelector (value "", as kubeadm sets it), and a toleration of the control-plane NoSchedule
 * taint. Returns what is wrong, in words.
 */
export function checkControlPlaneScheduling(podSpec: unknown): string[] {
    const spec = (podSpec ?? {}) as Record<string, unknown>;
    const out: string[] = [];
    if (typeof spec.nodeName === "string" && spec.nodeName !== "") {
        out.push(`it is pinned to node ${spec.nodeName} (nodeName): while that master is down the job does not run at all`);
    }
    const selector = (spec.nodeSelector ?? {}) as Record<string, unknown>;
    if (typeof selector[HOSTNAME_LABEL] === "string") {
        out.push(`its nodeSelector pins it to ${String(selector[HOSTNAME_LABEL])} (${HOSTNAME_LABEL}): it must be free to run on any control-plane node`);
    }
    const affinity = JSON.stringify(spec.affinity ?? {});
    if (affinity.includes(HOSTNAME_LABEL)) {
        out.push(`its node affinity names ${HOSTNAME_LABEL}: it must be free to run on any control-plane node`);
    }
    if (!(CONTROL_PLANE_LABEL in selector)) {
        out.push(`its nodeSelector lacks ${CONTROL_PLANE_LABEL}: it could land on a worker, which has no etcd member and no etcd client certificate`);
    } else if (selector[CONTROL_PLANE_LABEL] !== "") {
        out.push(`its nodeSelector asks ${CONTROL_PLANE_LABEL}=${JSON.stringify(selector[CONTROL_PLANE_LABEL])}, but kubeadm sets that label with an empty value: no node would match`);
    }
    const tolerations = Array.isArray(spec.tolerations) ? (spec.tolerations as Toleration[]) : [];
    if (!tolerations.some(toleratesControlPlane)) {
        out.push(`it does not tolerate the ${CONTROL_PLANE_LABEL}:NoSchedule taint: it could never be scheduled on a master`);
    }
    return out;
}
