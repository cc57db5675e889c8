/**
 * The stack config, parsed and validated once into one immutable topology. The program and the
 * offline plan both call `loadTopology`; a bad value is reported with its key, its value and the
 * rule before any resource is registered.
 */
import { ClusterOpsConfig, minShutdownDelaySeconds, readClusterOps } from "./clusterOps";
import { ConfigError, ConfigIssue } from "./errors";
import { IpamConfig, readIpam } from "./ipam";
import { inRange, inSubnet, IPv4Range, isIPv4, isNetworkOrBroadcast, parseCidr, parseRange, vipConflicts } from "./ip";
import { KUBEADM_CONFIG_API_VERSIONS, kubeadmConfigApiVersion, parseKubeadmDuration } from "./kubeadm";
import { checkHealthCheckTimings, DEFAULT_HEALTH_CHECK_TIMINGS, DEFAULT_PFSENSE_HOST_ALIAS, ejectionBoundMs, HealthCheckTimings, PFSENSE_ALIAS_NAME } from "./loadBalancer";
import { isPhaseId, PhaseId, PHASE_IDS } from "./phases";
import { checkFinalControlPlane } from "./quorum";

/** kubeadm's preflight refuses a control-plane node below these. */
export const KUBEADM_MIN_CONTROL_PLANE_CORES = 2;
export const KUBEADM_MIN_CONTROL_PLANE_MEMORY_GIB = 2;
export const DEFAULT_HOST_RESERVE_GIB = 8;

/** Config keys whose leaves are secrets; the topology never holds their values. */
export const SECRET_CONFIG_PATHS = ["proxmox.apiToken", "ssh.privateKey", "dns.tsigSecret", "kubernetesAccess.kubeconfig", "ipam.token"] as const;
export type SecretConfigPath = (typeof SECRET_CONFIG_PATHS)[number];

export const LOAD_BALANCER_KINDS = ["pfsense", "haproxy"] as const;
export type LoadBalancerKind = (typeof LOAD_BALANCER_KINDS)[number];

export interface ClusterConfig {
    readonly domain: string;
    readonly subnet: string;
    readonly prefixLength: number;
    readonly gateway: string;
    readonly vip: string;
    readonly apiserverPort: number;
    readonly apiserverDnsName: string;
    /** The fully qualified name of the VIP, `<apiserverDnsName>.<domain>`. */
    readonly apiserverFqdn: string;
    readonly metallbPool: IPv4Range;
    readonly dnsServers: readonly string[];
}

export interface ProxmoxNode {
    readonly name: string;
    /** Where the program reaches the node over SSH (capacity check, snippets). */
    readonly address: string;
    readonly physicalMemoryGiB: number;
    /** Memory allocated to all VMs on the node today, including the existing master. */
    readonly committedMemoryGiB: number;
    readonly hostReserveGiB: number;
}

export interface ProxmoxConfig {
    readonly endpoint: string;
    readonly insecure: boolean;
    readonly templateVmId: number;
    readonly bridge: string;
    readonly vlanId: number;
    readonly datastore: string;
    readonly snippetsDatastore: string;
    readonly sshUser: string;
    readonly nodes: readonly ProxmoxNode[];
}

export interface MasterSpec {
    readonly name: string;
    readonly ip: string;
    readonly vmId: number;
    readonly node: string;
    readonly cores: number;
    readonly memoryGiB: number;
    readonly diskGiB: number;
    /** The master the cluster already has: never a resource of this stack. */
    readonly existing: boolean;
    readonly macAddress?: string;
}

export interface WorkerSpec {
    readonly name: string;
    readonly ip?: string;
}

export interface SshConfig {
    readonly user: string;
    readonly publicKey: string;
}

export interface LoadBalancerConfig {
    readonly kind: LoadBalancerKind;
    readonly host: string;
    readonly user: string;
    /** pfSense: interface id (opt1, ...) carrying the cluster VLAN, or "auto" (the one whose subnet holds the VIP). */
    readonly interface: string;
    /** Health-check timings (topology/loadBalancer.ts defaults, each overridable). */
    readonly healthCheck: HealthCheckTimings;
    /** After a pool change, how long the LB waits for the affected servers to be UP (0: no wait). */
    readonly waitUpSeconds: number;
    /** haproxy: the haproxy.cfg the managed block goes into. */
    readonly haproxyConfig: string;
    /** pfsense: the VIP's host alias (Firewall > Aliases > Hosts). */
    readonly hostAlias: string;
}

/** A record the VIP's name replaces (the seed's stale `kubernetes IN A 10.0.20.100`). */
export interface StaleDnsRecord {
    readonly fqdn: string;
    readonly ip: string;
}

export interface DnsConfig {
    readonly server: string;
    readonly port: number;
    readonly zone: string;
    readonly tsigKeyName: string;
    readonly tsigAlgorithm: TsigAlgorithm;
    readonly ttl: number;
    /** Removed in phase 1 (only that exact A record), put back if phase 1 is destroyed. */
    readonly staleRecords: readonly StaleDnsRecord[];
}

export const TSIG_ALGORITHMS = ["hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224", "hmac-sha1", "hmac-md5"] as const;
export type TsigAlgorithm = (typeof TSIG_ALGORITHMS)[number];

/**
 * How the program drives kubeadm (phase 0 retrofit, phase 2/3 joins, rollback of a master).
 * Key `kubeadm`; every field has a default, so the key may be absent.
 */
export interface KubeadmConfig {
    /** Where on the existing master the preflight looks for (and takes) etcd snapshots. */
    readonly etcdSnapshotDir: string;
    /** The newest snapshot there must be younger than this. */
    readonly etcdSnapshotMaxAgeHours: number;
    /** Take a snapshot when none is recent enough, instead of refusing. */
    readonly takeEtcdSnapshot: boolean;
    /**
     * How long taking that snapshot may last. Its own bound, not etcdctl's 15 s command timeout:
     * a snapshot streams the whole keyspace, and a few hundred MB take longer than that.
     */
    readonly etcdSnapshotTimeoutMinutes: number;
    /** Name of the Proxmox snapshot of the existing master's VM taken before phase 0 changes it. */
    readonly proxmoxSnapshotName: string;
    /** Destroying phase 0 keeps that snapshot unless this is false. */
    readonly keepProxmoxSnapshot: boolean;
    /** On the existing master: the original certificate and ClusterConfiguration, for the restore. */
    readonly backupDir: string;
    /** TTL of each join's bootstrap token, kubeadm duration syntax ("30m"). */
    readonly joinTokenTtl: string;
    readonly readyzTimeoutSeconds: number;
    readonly cloudInitTimeoutSeconds: number;
    readonly joinTimeoutSeconds: number;
    readonly gateTimeoutSeconds: number;
    readonly drainTimeoutSeconds: number;
    /** New masters must run at least this containerd (MAJOR.MINOR[.PATCH]). */
    readonly minContainerdVersion: string;
    /** Namespaces whose pods phase 0 waits for after the apiserver restart (seed step 0.6). */
    readonly verifyNamespaces: readonly string[];
}

export interface Topology {
    readonly project: string;
    readonly stack: string;
    readonly targetPhase: PhaseId;
    readonly kubernetesVersion: string;
    /** `v1.34` for 1.34.x: the pkgs.k8s.io channel. */
    readonly kubernetesMinor: string;
    readonly cluster: ClusterConfig;
    readonly proxmox: ProxmoxConfig;
    /** In join order; the first is the existing master. */
    readonly masters: readonly MasterSpec[];
    readonly existingMaster: MasterSpec;
    readonly newMasters: readonly MasterSpec[];
    readonly workers: readonly WorkerSpec[];
    readonly ssh: SshConfig;
    readonly loadBalancer: LoadBalancerConfig;
    readonly dns: DnsConfig;
    readonly kubeadm: KubeadmConfig;
    /** Phases 1.5 and 4 to 7: flags, cut-over, etcd maintenance, kured gate, upgrade chain. */
    readonly clusterOps: ClusterOpsConfig;
    /** Phase 1.1: where the VIP and the new masters' addresses are registered (optional). */
    readonly ipam?: IpamConfig;
}

/** The config as Pulumi hands it over: project key (without namespace) to parsed value. */
export type RawConfig = Readonly<Record<string, unknown>>;

type Json = Record<string, unknown>;

/**
 * Reads typed values from the raw config and records every broken rule instead of stopping at
 * the first, so one run shows the user the whole list.
 */
export class Reader {
    readonly issues: ConfigIssue[] = [];

    fail(key: string, value: unknown, rule: string): void {
        this.issues.push({ key, value, rule });
    }

    object(value: unknown, key: string): Json {
        if (value !== null && typeof value === "object" && !Array.isArray(value)) return value as Json;
        this.fail(key, value, "must be an object");
        return {};
    }

    array(value: unknown, key: string): unknown[] {
        if (Array.isArray(value)) return value;
        this.fail(key, value, "must be a list");
        return [];
    }

    string(obj: Json, field: string, key: string, fallback?: string): string {
        const value = obj[field] ?? fallback;
        if (typeof value === "string" && value.trim() !== "") return value.trim();
        this.fail(key, value, "must be a non-empty string");
        return "";
    }

    optionalString(obj: Json, field: string, key: string): string | undefined {
        return obj[field] === undefined ? undefined : this.string(obj, field, key);
    }

    boolean(obj: Json, field: string, key: string, fallback: boolean): boolean {
        const value = obj[field] ?? fallback;
        if (typeof value === "boolean") return value;
        if (value === "true" || value === "false") return value === "true";
        this.fail(key, value, "must be true or false");
        return fallback;
    }

    /** Integers may arrive as strings from `pulumi config set`; both are accepted. */
    integer(obj: Json, field: string, key: string, min: number, max: number, fallback?: number): number {
        const raw = obj[field] ?? fallback;
        const value = typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
        if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= max) return value;
        this.fail(key, raw, `must be a whole number from ${min} to ${max}`);
        return Number.NaN;
    }

    number(obj: Json, field: string, key: string, min: number, fallback?: number): number {
        const raw = obj[field] ?? fallback;
        const value = typeof raw === "string" && raw.trim() !== "" && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
        if (typeof value === "number" && Number.isFinite(value) && value >= min) return value;
        this.fail(key, raw, `must be a number of at least ${min}`);
        return Number.NaN;
    }

    ipv4(obj: Json, field: string, key: string): string {
        const value = obj[field];
        if (typeof value === "string" && isIPv4(value.trim())) return value.trim();
        this.fail(key, value, "must be an IPv4 address in dotted decimal (a.b.c.d)");
        return "";
    }

    secretPresent(obj: Json, field: string, key: string): void {
        const value = obj[field];
        if (typeof value !== "string" || value === "") {
            // Never echo a secret's value, even a malformed one.
            this.fail(key, value === undefined ? undefined : "[secret]", `must be set, as a secret: pulumi config set --secret --path ${key} <value>`);
        }
    }
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DNS_NAME = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const MAC = /^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$/;
const SEMVER = /^(\d+)\.(\d+)\.(\d+)$/;

export interface LoadOptions {
    readonly project: string;
    readonly stack: string;
}

export function loadTopology(raw: RawConfig, options: LoadOptions): Topology {
    const r = new Reader();

    const targetRaw = raw.targetPhase ?? "0";
    const targetPhase = String(targetRaw);
    if (!isPhaseId(targetPhase)) {
        r.fail("targetPhase", targetRaw, `must be one of the phase ids ${PHASE_IDS.join(", ")}`);
    }

    const kubernetesVersion = String(raw.kubernetesVersion ?? "");
    const semver = SEMVER.exec(kubernetesVersion);
    if (!semver) {
        r.fail("kubernetesVersion", raw.kubernetesVersion, "must be MAJOR.MINOR.PATCH, for example 1.34.8 (no leading v)");
    }

    const cluster = readCluster(r, raw.cluster);
    const proxmox = readProxmox(r, raw.proxmox);
    const masters = r.array(raw.masters, "masters").map((m, i) => readMaster(r, m, i));
    const workers = r.array(raw.workers ?? [], "workers").map((w, i) => readWorker(r, w, i));
    const ssh = readSsh(r, raw.ssh);
    const loadBalancer = readLoadBalancer(r, raw.loadBalancer);
    const dns = readDns(r, raw.dns, cluster);
    const kubeadm = readKubeadm(r, raw.kubeadm, semver ? kubernetesVersion : undefined);
    const clusterOps = readClusterOps(r, raw, isPhaseId(targetPhase) ? targetPhase : undefined);
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

    if (r.issues.length > 0) throw new ConfigError(r.issues);

    const existingMaster = masters[0];
    return deepFreeze({
        project: options.project,
        stack: options.stack,
        targetPhase: targetPhase as PhaseId,
        kubernetesVersion,
        kubernetesMinor: `v${semver![1]}.${semver![2]}`,
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

function readCluster(r: Reader, value: unknown): ClusterConfig {
    const c = r.object(value, "cluster");
    const domain = r.string(c, "domain", "cluster.domain").toLowerCase();
    if (domain && !DNS_NAME.test(domain)) r.fail("cluster.domain", c.domain, "must be a DNS name such as lab.example");
    const subnet = r.string(c, "subnet", "cluster.subnet");
    const cidr = subnet ? parseCidr(subnet) : undefined;
    if (subnet && !cidr) r.fail("cluster.subnet", c.subnet, "must be an IPv4 CIDR such as 10.0.20.0/24");
    const gateway = r.ipv4(c, "gateway", "cluster.gateway");
    const vip = r.ipv4(c, "vip", "cluster.vip");
    const apiserverPort = r.integer(c, "apiserverPort", "cluster.apiserverPort", 1, 65535, 6443);
    const apiserverDnsName = r.string(c, "apiserverDnsName", "cluster.apiserverDnsName", "k8s-apiserver").toLowerCase();
    if (apiserverDnsName && !DNS_LABEL.test(apiserverDnsName)) {
        r.fail("cluster.apiserverDnsName", c.apiserverDnsName, "must be one DNS label (letters, digits, hyphens); the domain is appended");
    }
    const poolRaw = r.string(c, "metallbPool", "cluster.metallbPool");
    const metallbPool = poolRaw ? parseRange(poolRaw) : undefined;
    if (poolRaw && !metallbPool) {
        r.fail("cluster.metallbPool", c.metallbPool, "must be FIRST-LAST (ascending IPv4 addresses) or a CIDR");
    }
    const dnsServersRaw = c.dnsServers === undefined ? [gateway] : r.array(c.dnsServers, "cluster.dnsServers");
    const dnsServers = dnsServersRaw.map((s, i) => {
        if (typeof s === "string" && isIPv4(s)) return s;
        r.fail(`cluster.dnsServers[${i}]`, s, "must be an IPv4 address");
        return "";
    });

    if (cidr) {
        for (const [key, ip] of [["cluster.gateway", gateway], ["cluster.vip", vip]] as const) {
            if (ip && !inSubnet(ip, subnet)) r.fail(key, ip, `must be inside cluster.subnet ${subnet}`);
            else if (ip && isNetworkOrBroadcast(ip, subnet)) r.fail(key, ip, `must not be the network or broadcast address of ${subnet}`);
        }
    }
    // The same rule as the vip-conflicts policy (topology/ip.ts), reported against the config keys.
    if (vip && gateway && vipConflicts(vip, { gateway }).length > 0) r.fail("cluster.vip", vip, "must differ from cluster.gateway");
    if (vip && metallbPool && vipConflicts(vip, { metallbPool }).length > 0) {
        r.fail("cluster.vip", vip, `must not be inside cluster.metallbPool ${metallbPool.first}-${metallbPool.last}: MetalLB could hand it to a Service`);
    }
    return {
        domain,
        subnet,
        prefixLength: cidr ? cidr[1] : 0,
        gateway,
        vip,
        apiserverPort,
        apiserverDnsName,
        apiserverFqdn: `${apiserverDnsName}.${domain}`,
        metallbPool: metallbPool ?? { first: "", last: "" },
        dnsServers,
    };
}

function readProxmox(r: Reader, value: unknown): ProxmoxConfig {
    const p = r.object(value, "proxmox");
    const endpoint = r.string(p, "endpoint", "proxmox.endpoint");
    let endpointHost = "";
    try {
        const url = new URL(endpoint);
        if (url.protocol !== "https:") throw new Error("not https");
        endpointHost = url.hostname;
    } catch {
        if (endpoint) r.fail("proxmox.endpoint", p.endpoint, "must be an https:// URL of the Proxmox API, such as https://pve.lab:8006/");
    }
    r.secretPresent(p, "apiToken", "proxmox.apiToken");
    const nodes = r.array(p.nodes, "proxmox.nodes").map((n, i): ProxmoxNode => {
        const key = `proxmox.nodes[${i}]`;
        const o = r.object(n, key);
        const physical = r.number(o, "physicalMemoryGiB", `${key}.physicalMemoryGiB`, 1);
        const committed = r.number(o, "committedMemoryGiB", `${key}.committedMemoryGiB`, 0);
        const reserve = r.number(o, "hostReserveGiB", `${key}.hostReserveGiB`, 0, DEFAULT_HOST_RESERVE_GIB);
        if (reserve >= physical) r.fail(`${key}.hostReserveGiB`, o.hostReserveGiB, `must be less than physicalMemoryGiB (${physical})`);
        return {
            name: r.string(o, "name", `${key}.name`),
            address: r.string(o, "address", `${key}.address`, endpointHost || undefined),
            physicalMemoryGiB: physical,
            committedMemoryGiB: committed,
            hostReserveGiB: reserve,
        };
    });
    if (nodes.length === 0 && Array.isArray(p.nodes)) r.fail("proxmox.nodes", p.nodes, "must list at least one Proxmox node");
    return {
        endpoint,
        insecure: r.boolean(p, "insecure", "proxmox.insecure", false),
        templateVmId: r.integer(p, "templateVmId", "proxmox.templateVmId", 100, 999999999),
        bridge: r.string(p, "bridge", "proxmox.bridge"),
        vlanId: r.integer(p, "vlanId", "proxmox.vlanId", 1, 4094),
        datastore: r.string(p, "datastore", "proxmox.datastore"),
        snippetsDatastore: r.string(p, "snippetsDatastore", "proxmox.snippetsDatastore", "local"),
        sshUser: r.string(p, "sshUser", "proxmox.sshUser", "root"),
        nodes,
    };
}

function readMaster(r: Reader, value: unknown, i: number): MasterSpec {
    const key = `masters[${i}]`;
    const m = r.object(value, key);
    const existing = r.boolean(m, "existing", `${key}.existing`, false);
    const macAddress = r.optionalString(m, "macAddress", `${key}.macAddress`);
    if (macAddress && !MAC.test(macAddress)) r.fail(`${key}.macAddress`, macAddress, "must be six hex octets separated by colons");
    const name = r.string(m, "name", `${key}.name`);
    if (name && !DNS_LABEL.test(name)) r.fail(`${key}.name`, name, "must be a lowercase DNS label (it becomes the hostname and the Kubernetes node name)");
    const cores = r.integer(m, "cores", `${key}.cores`, 1, 512, existing ? 2 : undefined);
    const memoryGiB = r.number(m, "memoryGiB", `${key}.memoryGiB`, 0.001, existing ? 2 : undefined);
    if (!existing) {
        if (cores < KUBEADM_MIN_CONTROL_PLANE_CORES) {
            r.fail(`${key}.cores`, m.cores, `kubeadm's preflight needs at least ${KUBEADM_MIN_CONTROL_PLANE_CORES} CPUs on a control-plane node`);
        }
        if (memoryGiB < KUBEADM_MIN_CONTROL_PLANE_MEMORY_GIB) {
            r.fail(`${key}.memoryGiB`, m.memoryGiB, `kubeadm's preflight needs at least ${KUBEADM_MIN_CONTROL_PLANE_MEMORY_GIB} GiB on a control-plane node`);
        }
    }
    return {
        name,
        ip: r.ipv4(m, "ip", `${key}.ip`),
        vmId: r.integer(m, "vmId", `${key}.vmId`, 100, 999999999),
        node: r.string(m, "node", `${key}.node`),
        cores,
        memoryGiB,
        diskGiB: existing ? 0 : r.integer(m, "diskGiB", `${key}.diskGiB`, 20, 65536),
        existing,
        ...(macAddress ? { macAddress: macAddress.toUpperCase() } : {}),
    };
}

function readWorker(r: Reader, value: unknown, i: number): WorkerSpec {
    const key = `workers[${i}]`;
    const w = r.object(value, key);
    const name = r.string(w, "name", `${key}.name`);
    if (name && !DNS_LABEL.test(name)) r.fail(`${key}.name`, name, "must be a lowercase DNS label");
    return w.ip === undefined ? { name } : { name, ip: r.ipv4(w, "ip", `${key}.ip`) };
}

function readSsh(r: Reader, value: unknown): SshConfig {
    const s = r.object(value, "ssh");
    r.secretPresent(s, "privateKey", "ssh.privateKey");
    const publicKey = r.string(s, "publicKey", "ssh.publicKey");
    if (publicKey && !/^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/.test(publicKey)) {
        r.fail("ssh.publicKey", publicKey, "must be an OpenSSH public key line (ssh-ed25519 AAAA... comment)");
    }
    return { user: r.string(s, "user", "ssh.user"), publicKey };
}

function readLoadBalancer(r: Reader, value: unknown): LoadBalancerConfig {
    const l = r.object(value, "loadBalancer");
    const kind = r.string(l, "kind", "loadBalancer.kind", "pfsense");
    if (kind && !(LOAD_BALANCER_KINDS as readonly string[]).includes(kind)) {
        r.fail("loadBalancer.kind", l.kind, `must be one of ${LOAD_BALANCER_KINDS.join(", ")}`);
    }
    const iface = r.string(l, "interface", "loadBalancer.interface", "auto");
    if (iface && !/^(auto|wan|lan|opt\d{1,3})$/.test(iface)) {
        r.fail("loadBalancer.interface", l.interface, "must be a pfSense interface id (wan, lan, opt1, ...; see Interfaces > Assignments) or auto");
    }
    const h = l.healthCheck === undefined ? {} : r.object(l.healthCheck, "loadBalancer.healthCheck");
    const d = DEFAULT_HEALTH_CHECK_TIMINGS;
    const ms = (field: keyof HealthCheckTimings, min: number, max: number): number =>
        r.integer(h, field, `loadBalancer.healthCheck.${field}`, min, max, d[field]);
    const healthCheck: HealthCheckTimings = {
        intervalMs: ms("intervalMs", 100, 60_000),
        fastIntervalMs: ms("fastIntervalMs", 100, 60_000),
        downIntervalMs: ms("downIntervalMs", 100, 60_000),
        fall: ms("fall", 1, 10),
        rise: ms("rise", 1, 10),
        timeoutMs: ms("timeoutMs", 100, 60_000),
    };
    const broken = Object.values(healthCheck).some(Number.isNaN) ? undefined : checkHealthCheckTimings(healthCheck);
    if (broken) r.fail(`loadBalancer.healthCheck.${broken.field}`, healthCheck[broken.field], broken.rule);
    const haproxyConfig = r.string(l, "haproxyConfig", "loadBalancer.haproxyConfig", "/etc/haproxy/haproxy.cfg");
    if (haproxyConfig && !/^\/[A-Za-z0-9._\/-]+$/.test(haproxyConfig)) {
        r.fail("loadBalancer.haproxyConfig", l.haproxyConfig, "must be an absolute path of letters, digits, . _ - and /");
    }
    const hostAlias = r.string(l, "hostAlias", "loadBalancer.hostAlias", DEFAULT_PFSENSE_HOST_ALIAS);
    if (hostAlias && !PFSENSE_ALIAS_NAME.test(hostAlias)) {
        r.fail("loadBalancer.hostAlias", l.hostAlias, "must be a pfSense alias name: up to 31 letters, digits or _ (no hyphens), not only digits or underscores");
    }
    return {
        kind: kind as LoadBalancerKind,
        host: r.string(l, "host", "loadBalancer.host"),
        user: r.string(l, "user", "loadBalancer.user", "admin"),
        interface: iface,
        healthCheck,
        waitUpSeconds: r.integer(l, "waitUpSeconds", "loadBalancer.waitUpSeconds", 0, 600, 60),
        haproxyConfig,
        hostAlias,
    };
}

function readDns(r: Reader, value: unknown, cluster: ClusterConfig): DnsConfig {
    const d = r.object(value, "dns");
    r.secretPresent(d, "tsigSecret", "dns.tsigSecret");
    const zone = r.string(d, "zone", "dns.zone").toLowerCase().replace(/\.$/, "");
    if (zone && !DNS_NAME.test(zone)) r.fail("dns.zone", d.zone, "must be a DNS name such as lab.example");
    // The VIP's name must live in the zone the updates go to, or the server refuses them (NOTZONE).
    if (zone && cluster.domain && cluster.apiserverDnsName && !inZone(cluster.apiserverFqdn, zone)) {
        r.fail("dns.zone", d.zone, `must contain the VIP's name ${cluster.apiserverFqdn} (cluster.apiserverDnsName + cluster.domain)`);
    }
    const algorithm = r.string(d, "tsigAlgorithm", "dns.tsigAlgorithm", "hmac-sha256").toLowerCase();
    if (algorithm && !(TSIG_ALGORITHMS as readonly string[]).includes(algorithm)) {
        r.fail("dns.tsigAlgorithm", d.tsigAlgorithm, `must be one of ${TSIG_ALGORITHMS.join(", ")}`);
    }
    const keyName = r.string(d, "tsigKeyName", "dns.tsigKeyName");
    if (keyName && !DNS_NAME.test(keyName.toLowerCase().replace(/\.$/, ""))) {
        r.fail("dns.tsigKeyName", d.tsigKeyName, "must be a key name as the DNS server knows it (a DNS name, such as ha-control-plane)");
    }
    const staleRecords = r.array(d.staleRecords ?? [], "dns.staleRecords").map((v, i): StaleDnsRecord => {
        const key = `dns.staleRecords[${i}]`;
        const o = r.object(v, key);
        const name = r.string(o, "name", `${key}.name`).toLowerCase().replace(/\.$/, "");
        // A bare label is in the zone; a dotted name must end with it.
        const fqdn = name.includes(".") ? name : `${name}.${zone}`;
        if (name && (!DNS_NAME.test(fqdn) || (zone && !inZone(fqdn, zone)))) {
            r.fail(`${key}.name`, o.name, `must be a name in the zone ${zone}: a label such as kubernetes, or a full name ending in .${zone}`);
        } else if (fqdn === cluster.apiserverFqdn) {
            r.fail(`${key}.name`, o.name, "must differ from the VIP's own name");
        }
        return { fqdn, ip: r.ipv4(o, "ip", `${key}.ip`) };
    });
    return {
        server: r.string(d, "server", "dns.server"),
        port: r.integer(d, "port", "dns.port", 1, 65535, 53),
        zone,
        tsigKeyName: keyName,
        tsigAlgorithm: algorithm as TsigAlgorithm,
        ttl: r.integer(d, "ttl", "dns.ttl", 1, 86400, 300),
        staleRecords,
    };
}

function inZone(fqdn: string, zone: string): boolean {
    return fqdn === zone || fqdn.endsWith(`.${zone}`);
}

const ABSOLUTE_PATH = /^\/[A-Za-z0-9._\/-]*$/;
/** Proxmox's snapshot name rule (pve-configid): a letter, then letters, digits, - or _, at most 40. */
const PROXMOX_SNAPSHOT_NAME = /^[A-Za-z][A-Za-z0-9_-]{1,39}$/;
const MIN_JOIN_TOKEN_TTL_SECONDS = 5 * 60;
const MAX_JOIN_TOKEN_TTL_SECONDS = 24 * 3600;

function readKubeadm(r: Reader, value: unknown, kubernetesVersion: string | undefined): KubeadmConfig {
    const k = value === undefined ? {} : r.object(value, "kubeadm");
    if (kubernetesVersion && !kubeadmConfigApiVersion(kubernetesVersion)) {
        r.fail("kubernetesVersion", kubernetesVersion, `kubeadm must write one of ${KUBEADM_CONFIG_API_VERSIONS.join(", ")} (Kubernetes 1.22 or later)`);
    }
    const path = (field: string, fallback: string): string => {
        const v = r.string(k, field, `kubeadm.${field}`, fallback);
        if (v && !ABSOLUTE_PATH.test(v)) r.fail(`kubeadm.${field}`, k[field], "must be an absolute path of letters, digits, . _ - and /");
        return v;
    };
    const etcdSnapshotDir = path("etcdSnapshotDir", "/var/lib/ha-control-plane/etcd-snapshots");
    const backupDir = path("backupDir", "/var/lib/ha-control-plane/retrofit");
    if (/^\/(tmp|run)(\/|$)/.test(backupDir)) {
        r.fail("kubeadm.backupDir", k.backupDir, "must survive a reboot (not under /tmp or /run): destroying phase 0 restores from it");
    }
    const proxmoxSnapshotName = r.string(k, "proxmoxSnapshotName", "kubeadm.proxmoxSnapshotName", "pre-ha-retrofit");
    if (proxmoxSnapshotName && !PROXMOX_SNAPSHOT_NAME.test(proxmoxSnapshotName)) {
        r.fail("kubeadm.proxmoxSnapshotName", k.proxmoxSnapshotName, "must start with a letter and hold 2 to 40 letters, digits, - or _ (Proxmox's rule)");
    }
    const joinTokenTtl = r.string(k, "joinTokenTtl", "kubeadm.joinTokenTtl", "30m");
    const ttl = parseKubeadmDuration(joinTokenTtl);
    if (joinTokenTtl && (ttl === undefined || ttl < MIN_JOIN_TOKEN_TTL_SECONDS || ttl > MAX_JOIN_TOKEN_TTL_SECONDS)) {
        r.fail("kubeadm.joinTokenTtl", k.joinTokenTtl, "must be a kubeadm duration (such as 30m or 1h30m) from 5m to 24h: short-lived, yet long enough for one join");
    }
    const minContainerdVersion = r.string(k, "minContainerdVersion", "kubeadm.minContainerdVersion", "2.2");
    if (minContainerdVersion && !/^\d+\.\d+(\.\d+)?$/.test(minContainerdVersion)) {
        r.fail("kubeadm.minContainerdVersion", k.minContainerdVersion, "must be MAJOR.MINOR or MAJOR.MINOR.PATCH, such as 2.2");
    }
    const verifyNamespaces = r.array(k.verifyNamespaces ?? [], "kubeadm.verifyNamespaces").map((ns, i) => {
        if (typeof ns === "string" && DNS_LABEL.test(ns)) return ns;
        r.fail(`kubeadm.verifyNamespaces[${i}]`, ns, "must be a namespace name (a lowercase DNS label)");
        return "";
    });
    return {
        etcdSnapshotDir,
        etcdSnapshotMaxAgeHours: r.number(k, "etcdSnapshotMaxAgeHours", "kubeadm.etcdSnapshotMaxAgeHours", 0.1, 24),
        takeEtcdSnapshot: r.boolean(k, "takeEtcdSnapshot", "kubeadm.takeEtcdSnapshot", true),
        etcdSnapshotTimeoutMinutes: r.integer(k, "etcdSnapshotTimeoutMinutes", "kubeadm.etcdSnapshotTimeoutMinutes", 1, 240, 10),
        proxmoxSnapshotName,
        keepProxmoxSnapshot: r.boolean(k, "keepProxmoxSnapshot", "kubeadm.keepProxmoxSnapshot", true),
        backupDir,
        joinTokenTtl,
        readyzTimeoutSeconds: r.integer(k, "readyzTimeoutSeconds", "kubeadm.readyzTimeoutSeconds", 30, 3600, 300),
        cloudInitTimeoutSeconds: r.integer(k, "cloudInitTimeoutSeconds", "kubeadm.cloudInitTimeoutSeconds", 60, 7200, 1800),
        joinTimeoutSeconds: r.integer(k, "joinTimeoutSeconds", "kubeadm.joinTimeoutSeconds", 60, 7200, 900),
        gateTimeoutSeconds: r.integer(k, "gateTimeoutSeconds", "kubeadm.gateTimeoutSeconds", 30, 3600, 600),
        drainTimeoutSeconds: r.integer(k, "drainTimeoutSeconds", "kubeadm.drainTimeoutSeconds", 30, 7200, 600),
        minContainerdVersion,
        verifyNamespaces,
    };
}

function checkMasters(r: Reader, masters: readonly MasterSpec[], proxmox: ProxmoxConfig): void {
    if (masters.length === 0) return; // already reported as "must be a list" or nothing to check
    const existing = masters.filter((m) => m.existing);
    if (!masters[0].existing || existing.length !== 1) {
        r.fail("masters", masters.map((m) => `${m.name}${m.existing ? " (existing)" : ""}`),
            "the first master, and only the first, must be marked existing: true (the master the cluster already has)");
    }
    const verdict = checkFinalControlPlane(masters.length);
    if (!verdict.ok) r.fail("masters", masters.map((m) => m.name), verdict.rule);
    const nodeNames = new Set(proxmox.nodes.map((n) => n.name));
    masters.forEach((m, i) => {
        if (m.node && proxmox.nodes.length > 0 && !nodeNames.has(m.node)) {
            r.fail(`masters[${i}].node`, m.node, `must be one of the nodes listed in proxmox.nodes (${[...nodeNames].join(", ")})`);
        }
        if (!m.existing && m.vmId === proxmox.templateVmId) {
            r.fail(`masters[${i}].vmId`, m.vmId, "must differ from proxmox.templateVmId (the template the VM is cloned from)");
        }
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
