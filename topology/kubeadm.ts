/**
 * kubeadm facts and formats the program and the scripts agree on: join material, the kubeadm
 * config API versions, the retrofit's endpoint and SANs, and who is an etcd member after each
 * join. Pure: no Pulumi resources, no I/O.
 */
import type { ClusterConfig, NewMasterPlacement, Taint, Topology } from "./types";

/** The label kubeadm puts on control-plane nodes, and the taint that keeps workloads off them. */
export const CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane";

/** kubeadm's preflight refuses a control-plane node below these. */
export const KUBEADM_MIN_CONTROL_PLANE_CORES = 2;
export const KUBEADM_MIN_CONTROL_PLANE_MEMORY_GIB = 2;

/**
 * The ClusterConfiguration API versions kubeadm writes into the kubeadm-config ConfigMap:
 * v1beta3 (kubeadm 1.22 to 1.30) and v1beta4 (1.31 and later; extraArgs became a list of
 * {name, value}). scripts/kubeadm/patch-cluster-config.py handles exactly these; a test checks
 * that its list and this one agree.
 */
export const KUBEADM_CONFIG_API_VERSIONS = ["kubeadm.k8s.io/v1beta3", "kubeadm.k8s.io/v1beta4"] as const;
export type KubeadmConfigApiVersion = (typeof KUBEADM_CONFIG_API_VERSIONS)[number];

/** The first minor whose kubeadm writes (and therefore whose clusters store) v1beta4. */
const V1BETA4_FROM_MINOR = 31;
/** v1beta3 arrived with kubeadm 1.22; older clusters are out of this program's reach. */
const V1BETA3_FROM_MINOR = 22;

/**
 * The API version kubeadm of `kubernetesVersion` writes. The retrofit does not force it: it keeps
 * the version it finds in the cluster (a cluster upgraded in place may still hold v1beta3 until
 * kubeadm rewrites it), this is what the config validation uses to refuse unsupported versions.
 */
export function kubeadmConfigApiVersion(kubernetesVersion: string): KubeadmConfigApiVersion | undefined {
    const m = /^(\d+)\.(\d+)\.\d+$/.exec(kubernetesVersion);
    if (!m || Number(m[1]) !== 1) return undefined;
    const minor = Number(m[2]);
    if (minor >= V1BETA4_FROM_MINOR) return "kubeadm.k8s.io/v1beta4";
    if (minor >= V1BETA3_FROM_MINOR) return "kubeadm.k8s.io/v1beta3";
    return undefined;
}

// ---- join material ----------------------------------------------------------------------------

/** kubeadm's bootstrap token: `[a-z0-9]{6}.[a-z0-9]{16}`, id then secret. */
export const BOOTSTRAP_TOKEN_PATTERN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;
export const BOOTSTRAP_TOKEN_ID_LENGTH = 6;
export const BOOTSTRAP_TOKEN_SECRET_LENGTH = 16;
/** @pulumi/random arguments that yield only the characters kubeadm accepts. */
export const BOOTSTRAP_TOKEN_ALPHABET = { upper: false, lower: true, numeric: true, special: false } as const;

export function bootstrapToken(id: string, secret: string): string {
    const token = `${id}.${secret}`;
    // Never echo the value: it is a credential.
    if (!BOOTSTRAP_TOKEN_PATTERN.test(token)) throw new Error("a bootstrap token must match [a-z0-9]{6}.[a-z0-9]{16}");
    return token;
}

/** `kubeadm init phase upload-certs --certificate-key`: 32 bytes, hex encoded (AES-256 key). */
export const CERTIFICATE_KEY_BYTES = 32;
export const CERTIFICATE_KEY_PATTERN = /^[0-9a-f]{64}$/;

export const CA_CERT_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;

/**
 * What scripts/kubeadm/join-material.sh prints on stdout, one JSON line, and what
 * join-control-plane.sh reads from JOIN_MATERIAL: the CA's public key hash (not secret, but it
 * travels with the token) and when the bootstrap token stops working.
 */
export interface JoinMaterial {
    readonly caCertHash: string;
    /** RFC 3339 UTC, when the bootstrap token expires. */
    readonly tokenExpires: string;
    /** The bootstrap token's id, so a failed join can be traced without the secret. */
    readonly tokenId: string;
}

export function parseJoinMaterial(stdout: string): JoinMaterial {
    let doc: unknown;
    try {
        doc = JSON.parse(stdout.trim().split("\n").pop() ?? "");
    } catch {
        throw new Error("join material: stdout is not one JSON line");
    }
    const d = (doc ?? {}) as Record<string, unknown>;
    if (typeof d.caCertHash !== "string" || !CA_CERT_HASH_PATTERN.test(d.caCertHash)) {
        throw new Error("join material: caCertHash must be sha256:<64 hex>");
    }
    if (typeof d.tokenExpires !== "string" || Number.isNaN(Date.parse(d.tokenExpires))) {
        throw new Error("join material: tokenExpires must be an RFC 3339 time");
    }
    if (typeof d.tokenId !== "string" || !/^[a-z0-9]{6}$/.test(d.tokenId)) {
        throw new Error("join material: tokenId must be [a-z0-9]{6}");
    }
    return { caCertHash: d.caCertHash, tokenExpires: d.tokenExpires, tokenId: d.tokenId };
}

/**
 * kubeadm's duration syntax as `kubeadm token create --ttl` takes it (Go durations restricted to
 * hours, minutes, seconds): "30m", "1h30m", "90s". Returns seconds, or undefined if malformed.
 */
export function parseKubeadmDuration(text: string): number | undefined {
    const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text.trim());
    if (!m || text.trim() === "") return undefined;
    return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

// ---- retrofit ---------------------------------------------------------------------------------

/** `<vip>:<port>`: what every kubeconfig and join points at once the LB is in place. */
export function controlPlaneEndpoint(cluster: ClusterConfig): string {
    return `${cluster.vip}:${cluster.apiserverPort}`;
}

/** SANs the apiserver certificates need for the VIP: its address and its DNS name. */
export function apiserverCertSans(cluster: ClusterConfig): string[] {
    return [cluster.vip, cluster.apiserverFqdn];
}

/**
 * The JSON document patch-cluster-config.py merges into the live ClusterConfiguration for phase 0:
 * the endpoint, and the SANs added to (never replacing) any the cluster already has.
 */
export function retrofitPatch(cluster: ClusterConfig): { controlPlaneEndpoint: string; apiServer: { certSANs: string[] } } {
    return { controlPlaneEndpoint: controlPlaneEndpoint(cluster), apiServer: { certSANs: apiserverCertSans(cluster) } };
}

// ---- membership -------------------------------------------------------------------------------

/** kubeadm's stacked etcd peer URL for a control-plane node. */
export function etcdPeerUrl(ip: string): string {
    return `https://${ip}:2380`;
}

/**
 * Who the gate expects in etcd right after `placement` joins: the existing master and every new
 * master up to this one. Later masters of the plan may already be there on a re-run (a gate that
 * re-runs after master-3 joined must not fail for master-3), anyone else is a stray member.
 */
export function membersAfterJoin(topology: Topology, placement: NewMasterPlacement): { members: string[]; later: string[] } {
    const order = topology.masters.map((m) => m.name);
    return { members: order.slice(0, placement.member), later: order.slice(placement.member) };
}

// ---- taints -----------------------------------------------------------------------------------

/** What keeps ordinary workloads off a control-plane node; every master joins with it. */
export const CONTROL_PLANE_TAINT: Taint = Object.freeze({ key: CONTROL_PLANE_LABEL, effect: "NoSchedule" });

/**
 * The rule for the taints a master joins with: the control-plane NoSchedule taint must be among
 * them. Without it the scheduler puts workloads on the new master, where they compete with etcd
 * and the apiserver for memory (the seed's hosts are already tight) and are evicted at every
 * control-plane upgrade.
 */
export function checkJoinTaints(taints: readonly Taint[]): string | undefined {
    const has = taints.some((t) => t.key === CONTROL_PLANE_TAINT.key && t.effect === CONTROL_PLANE_TAINT.effect);
    if (has) return undefined;
    const given = taints.length ? taints.map((t) => `${t.key}:${t.effect}`).join(", ") : "none";
    return `it joins without the ${CONTROL_PLANE_TAINT.key}:${CONTROL_PLANE_TAINT.effect} taint (taints given: ${given}): workloads would be scheduled onto the master, next to etcd and the apiserver`;
}
