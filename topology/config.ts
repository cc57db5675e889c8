/**
 * The stack config, parsed and validated once into one immutable topology. The program and the
 * offline plan both call `loadTopology`; a bad value is reported with its key, its value and the
 * rule before any resource is registered.
 */
import { ConfigError, ConfigIssue } from "./errors";
import { inRange, inSubnet, IPv4Range, isIPv4, isNetworkOrBroadcast, parseCidr, parseRange } from "./ip";
import { isPhaseId, PhaseId, PHASE_IDS } from "./phases";
import { checkFinalControlPlane } from "./quorum";

/** kubeadm's preflight refuses a control-plane node below these. */
export const KUBEADM_MIN_CONTROL_PLANE_CORES = 2;
export const KUBEADM_MIN_CONTROL_PLANE_MEMORY_GIB = 2;
export const DEFAULT_HOST_RESERVE_GIB = 8;

/** Config keys whose leaves are secrets; the topology never holds their values. */
export const SECRET_CONFIG_PATHS = ["proxmox.apiToken", "ssh.privateKey", "dns.tsigSecret"] as const;
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
}

export interface DnsConfig {
    readonly server: string;
    readonly zone: string;
    readonly tsigKeyName: string;
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
}

/** The config as Pulumi hands it over: project key (without namespace) to parsed value. */
export type RawConfig = Readonly<Record<string, unknown>>;

type Json = Record<string, unknown>;

/**
 * Reads typed values from the raw config and records every broken rule instead of stopping at
 * the first, so one run shows the user the whole list.
 */
class Reader {
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
    const dns = readDns(r, raw.dns);

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
    if (vip && gateway && vip === gateway) r.fail("cluster.vip", vip, "must differ from cluster.gateway");
    if (vip && metallbPool && inRange(vip, metallbPool)) {
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
    return { kind: kind as LoadBalancerKind, host: r.string(l, "host", "loadBalancer.host"), user: r.string(l, "user", "loadBalancer.user", "admin") };
}

function readDns(r: Reader, value: unknown): DnsConfig {
    const d = r.object(value, "dns");
    r.secretPresent(d, "tsigSecret", "dns.tsigSecret");
    return {
        server: r.string(d, "server", "dns.server"),
        zone: r.string(d, "zone", "dns.zone"),
        tsigKeyName: r.string(d, "tsigKeyName", "dns.tsigKeyName"),
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
        if (ip === cluster.vip) r.fail("cluster.vip", cluster.vip, `must not equal a node IP (${key})`);
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
