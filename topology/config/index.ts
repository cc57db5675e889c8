/**
 * The stack config, parsed and validated once into one immutable topology. The program and the
 * offline plan both call `loadTopology` (components/projectFiles.ts gives it the project's files);
 * a bad value is reported with its key, its value and the rule before any resource is
 * registered. Each key's defaults and reader are its own module here (topology/config/<key>.ts);
 * this one composes them and checks the rules that span keys.
 */
import { ConfigError } from "../errors";
import { inRange, inSubnet, vipConflicts } from "../ip";
import { ejectionBoundMs } from "../loadBalancer";
import type { ClusterConfig, ClusterOpsConfig, MasterSpec, PhaseId, ProjectFileReader, ProxmoxConfig, RawConfig, Topology, WorkerSpec } from "../types";
import { readCluster } from "./cluster";
import { minShutdownDelaySeconds, readControlPlaneFlags } from "./controlPlaneFlags";
import { readCutover } from "./cutover";
import { readDns } from "./dns";
import { readEtcdMaintenance } from "./etcdMaintenance";
import { readIpam } from "./ipam";
import { readKubeadm } from "./kubeadm";
import { readKubernetesAccess } from "./kubernetesAccess";
import { readKubernetesVersion } from "./kubernetesVersion";
import { readKured } from "./kured";
import { readLoadBalancer } from "./loadBalancer";
import { checkMasters, readMaster } from "./masters";
import { readProxmox } from "./proxmox";
import { Reader } from "./reader";
import { readSsh } from "./ssh";
import { readTargetPhase } from "./targetPhase";
import { readUpgrade } from "./upgrade";
import { readWorker } from "./workers";

/** Config keys whose leaves are secrets; the topology never holds their values. */
export const SECRET_CONFIG_PATHS = ["proxmox.apiToken", "ssh.privateKey", "dns.tsigSecret", "kubernetesAccess.kubeconfig", "ipam.token"] as const;
export type SecretConfigPath = (typeof SECRET_CONFIG_PATHS)[number];

export interface LoadOptions {
    readonly project: string;
    readonly stack: string;
    /** How a config value that names a project file (the audit policy) is read. */
    readonly readProjectFile: ProjectFileReader;
}

/** Reads every cluster-wide phase's key; `targetPhase` decides which secrets are required. */
export function readClusterOps(r: Reader, raw: RawConfig, targetPhase: PhaseId | undefined, readProjectFile: ProjectFileReader): ClusterOpsConfig {
    return {
        controlPlaneFlags: readControlPlaneFlags(r, raw.controlPlaneFlags, readProjectFile),
        cutover: readCutover(r, raw.cutover),
        etcdMaintenance: readEtcdMaintenance(r, raw.etcdMaintenance, targetPhase),
        kured: readKured(r, raw.kured),
        upgrade: readUpgrade(r, raw.upgrade),
        kubernetesAccess: readKubernetesAccess(r, raw.kubernetesAccess, targetPhase),
    };
}

export function loadTopology(raw: RawConfig, options: LoadOptions): Topology {
    const r = new Reader();
    const targetPhase = readTargetPhase(r, raw.targetPhase);
    const release = readKubernetesVersion(r, raw.kubernetesVersion);
    const cluster = readCluster(r, raw.cluster);
    const proxmox = readProxmox(r, raw.proxmox);
    const masters = r.array(raw.masters, "masters").map((m, i) => readMaster(r, m, i));
    const workers = r.array(raw.workers ?? [], "workers").map((w, i) => readWorker(r, w, i));
    const ssh = readSsh(r, raw.ssh);
    const loadBalancer = readLoadBalancer(r, raw.loadBalancer);
    const dns = readDns(r, raw.dns, cluster);
    const kubeadm = readKubeadm(r, raw.kubeadm, release?.kubernetesVersion);
    const clusterOps = readClusterOps(r, raw, targetPhase, options.readProjectFile);
    const ipam = readIpam(r, raw.ipam);
    const shutdown = clusterOps.controlPlaneFlags.apiserverShutdown;
    const check = loadBalancer.healthCheck;
    if (shutdown && !Object.values(check).some(Number.isNaN)) {
        const needed = minShutdownDelaySeconds(ejectionBoundMs(check), check.timeoutMs);
        if (shutdown.delaySeconds < needed) {
            r.fail("controlPlaneFlags.apiserverShutdown.delaySeconds", shutdown.delaySeconds,
                `must be at least ${needed}: loadBalancer.healthCheck ejects an unready apiserver within ${ejectionBoundMs(check)} ms (plus a ${check.timeoutMs} ms check timeout), and until then it must keep serving`);
        }
    }

    checkMasters(r, masters, proxmox);
    checkAddresses(r, cluster, masters, workers);
    checkUniqueness(r, masters, workers, proxmox);

    if (r.issues.length > 0 || !targetPhase || !release) throw new ConfigError(r.issues);

    const existingMaster = masters[0];
    return deepFreeze({
        project: options.project,
        stack: options.stack,
        targetPhase,
        ...release,
        cluster,
        proxmox,
        masters,
        existingMaster,
        newMasters: masters.slice(1),
        workers,
        ssh,
        loadBalancer,
        dns,
        kubeadm,
        clusterOps,
        ...(ipam ? { ipam } : {}),
    });
}

function checkAddresses(r: Reader, cluster: ClusterConfig, masters: readonly MasterSpec[], workers: readonly WorkerSpec[]): void {
    if (!cluster.prefixLength) return;
    const nodes: [string, string][] = [
        ...masters.map((m, i): [string, string] => [`masters[${i}].ip`, m.ip]),
        ...workers.flatMap((w, i): [string, string][] => (w.ip ? [[`workers[${i}].ip`, w.ip]] : [])),
    ];
    for (const [key, ip] of nodes) {
        if (!ip) continue;
        if (!inSubnet(ip, cluster.subnet)) r.fail(key, ip, `must be inside cluster.subnet ${cluster.subnet}`);
        if (ip === cluster.gateway) r.fail(key, ip, "must differ from cluster.gateway");
        if (cluster.metallbPool.first && inRange(ip, cluster.metallbPool)) {
            r.fail(key, ip, `must not be inside cluster.metallbPool ${cluster.metallbPool.first}-${cluster.metallbPool.last}`);
        }
        if (vipConflicts(cluster.vip, { nodes: [{ name: key, ip }] }).length > 0) r.fail("cluster.vip", cluster.vip, `must not equal a node IP (${key})`);
    }
}

function checkUniqueness(r: Reader, masters: readonly MasterSpec[], workers: readonly WorkerSpec[], proxmox: ProxmoxConfig): void {
    const seen = (entries: [string, string | number | undefined][], what: string): void => {
        const first = new Map<string | number, string>();
        for (const [key, value] of entries) {
            if (value === undefined || value === "" || Number.isNaN(value)) continue;
            const earlier = first.get(value);
            if (earlier) r.fail(key, value, `duplicate ${what}: already used by ${earlier}`);
            else first.set(value, key);
        }
    };
    seen([
        ...masters.map((m, i): [string, string] => [`masters[${i}].name`, m.name]),
        ...workers.map((w, i): [string, string] => [`workers[${i}].name`, w.name]),
    ], "node name");
    seen(masters.map((m, i): [string, number] => [`masters[${i}].vmId`, m.vmId]), "VMID");
    seen([
        ...masters.map((m, i): [string, string] => [`masters[${i}].ip`, m.ip]),
        ...workers.map((w, i): [string, string | undefined] => [`workers[${i}].ip`, w.ip]),
    ], "IP address");
    seen(masters.map((m, i): [string, string | undefined] => [`masters[${i}].macAddress`, m.macAddress]), "MAC address");
    seen(proxmox.nodes.map((n, i): [string, string] => [`proxmox.nodes[${i}].name`, n.name]), "Proxmox node name");
}

function deepFreeze<T>(value: T): T {
    if (value && typeof value === "object") {
        Object.values(value as object).forEach(deepFreeze);
        Object.freeze(value);
    }
    return value;
}
