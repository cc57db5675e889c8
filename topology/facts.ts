/**
 * How the program leaves facts in the resource graph for the policies to read. Policies see
 * only resources and their inputs, so the program puts the capacity facts on the capacity gate
 * (as its triggers, which also re-run the gate when they change) and each new master's etcd
 * position on its VM's tags (visible in the Proxmox UI too). Both sides use these functions.
 */
import type { NodeCapacityFacts, Taint } from "./types";

export const CAPACITY_FACTS_KIND = "ha-control-plane/proxmox-capacity";

export interface CapacityFactsTrigger extends NodeCapacityFacts {
    readonly kind: typeof CAPACITY_FACTS_KIND;
}

export function capacityTrigger(facts: NodeCapacityFacts): CapacityFactsTrigger {
    return { kind: CAPACITY_FACTS_KIND, ...facts };
}

export function readCapacityTrigger(value: unknown): NodeCapacityFacts | undefined {
    if (!value || typeof value !== "object") return undefined;
    const v = value as Record<string, unknown>;
    if (v.kind !== CAPACITY_FACTS_KIND || typeof v.node !== "string") return undefined;
    const nums = [v.physicalGiB, v.committedGiB, v.hostReserveGiB];
    if (!nums.every((n) => typeof n === "number" && Number.isFinite(n))) return undefined;
    return {
        node: v.node,
        physicalGiB: v.physicalGiB as number,
        committedGiB: v.committedGiB as number,
        hostReserveGiB: v.hostReserveGiB as number,
    };
}

/** Tag on a new master's VM: the etcd member it becomes and the planned control-plane size. */
export const CONTROL_PLANE_TAG = "k8s-control-plane";

export function memberTag(member: number, of: number): string {
    return `etcd-member-${member}-of-${of}`;
}

/**
 * Tags in the order Proxmox stores them: it de-duplicates a VM's tags and sorts them (datacenter
 * tag-style default: ordering by name, case-insensitive), so a list sent in any other order
 * reads back different and shows as a change on every run.
 */
export function proxmoxTagOrder(tags: readonly string[]): string[] {
    const unique = tags.filter((t, i) => tags.findIndex((u) => u.toLowerCase() === t.toLowerCase()) === i);
    return unique.sort((a, b) => {
        const [x, y] = [a.toLowerCase(), b.toLowerCase()];
        return x < y ? -1 : x > y ? 1 : 0;
    });
}

export function readMemberTag(tags: readonly unknown[]): { member: number; of: number } | undefined {
    for (const tag of tags) {
        const m = typeof tag === "string" ? /^etcd-member-(\d+)-of-(\d+)$/.exec(tag) : null;
        if (m) return { member: Number(m[1]), of: Number(m[2]) };
    }
    return undefined;
}

// ---------------------------------------------------------------------------------------------
// Component type tokens: the components register with these and the policies recognise a
// resource's role by its parent component's type (never by its name).

export const COMPONENT_TYPES = {
    phase: "ha-control-plane:index:Phase",
    masterVm: "ha-control-plane:proxmox:MasterVm",
    capacityGate: "ha-control-plane:proxmox:CapacityGate",
    controlPlanePlacement: "ha-control-plane:proxmox:ControlPlanePlacement",
    retrofit: "ha-control-plane:kubeadm:Retrofit",
    controlPlaneJoin: "ha-control-plane:kubeadm:ControlPlaneJoin",
    apiserverLoadBalancer: "ha-control-plane:loadbalancer:ApiserverLoadBalancer",
    apiserverPoolMember: "ha-control-plane:loadbalancer:ApiserverPoolMember",
    apiserverDnsRecord: "ha-control-plane:loadbalancer:ApiserverDnsRecord",
    ipamRegistration: "ha-control-plane:ipam:IpamRegistration",
    flagParity: "ha-control-plane:clusterOps:FlagParity",
    auditPolicyFile: "ha-control-plane:clusterOps:AuditPolicyFile",
    configMapCutover: "ha-control-plane:clusterOps:ConfigMapCutover",
    kubeletCutover: "ha-control-plane:clusterOps:KubeletCutover",
    etcdMaintenance: "ha-control-plane:clusterOps:EtcdMaintenance",
    kuredGate: "ha-control-plane:clusterOps:KuredGate",
    verification: "ha-control-plane:clusterOps:Verification",
    upgradeChain: "ha-control-plane:clusterOps:UpgradeChain",
    remoteStep: "ha-control-plane:remote:RemoteStep",
    localStep: "ha-control-plane:local:LocalStep",
} as const;

export type ComponentType = (typeof COMPONENT_TYPES)[keyof typeof COMPONENT_TYPES];

/** This project's components (not provider resources): they have no state of their own. */
export function isComponentType(type: string): boolean {
    return type.startsWith("ha-control-plane:");
}

/** The components of phase 1, the load balancer phase: every join waits for all of them. */
export const LOAD_BALANCER_PHASE_COMPONENTS: readonly ComponentType[] = [COMPONENT_TYPES.apiserverLoadBalancer, COMPONENT_TYPES.apiserverDnsRecord];

/**
 * Components whose commands hand a secret from the stack config to the remote process on stdin
 * (the TSIG secret to nsupdate, the phpIPAM token to curl). Secrets made by resources (join material) are found through
 * the graph instead; see topology/secrets.ts.
 */
export const CONFIG_SECRET_CARRIERS: Readonly<Partial<Record<ComponentType, string>>> = {
    [COMPONENT_TYPES.apiserverDnsRecord]: "the TSIG secret",
    [COMPONENT_TYPES.ipamRegistration]: "the phpIPAM app code token",
};

// ---------------------------------------------------------------------------------------------
// Facts in a component's registered outputs. The engine hands stack policies each component's
// registered outputs as its properties; changing them re-runs nothing, so they can carry what a
// policy needs (which child is the join, which the gate) without touching any custom resource.

export const JOIN_FACTS_KIND = "ha-control-plane/control-plane-join";

export interface JoinFacts<Ref = string> {
    /** The new master's node name. */
    readonly node: string;
    /** Its etcd member position and the planned size. */
    readonly member: number;
    readonly of: number;
    /** URNs of the `kubeadm join` step and of the gate that follows it. */
    readonly join: Ref;
    readonly gate: Ref;
    /** URN of the step whose delete removes the etcd member again (the rollback, under the quorum guard). */
    readonly membership: Ref;
}

export function joinFacts<Ref>(facts: JoinFacts<Ref>): JoinFacts<Ref> & { readonly kind: typeof JOIN_FACTS_KIND } {
    return { kind: JOIN_FACTS_KIND, ...facts };
}

export function readJoinFacts(value: unknown): JoinFacts | undefined {
    const v = record(value);
    if (!v || v.kind !== JOIN_FACTS_KIND) return undefined;
    const { node, member, of, join, gate, membership } = v;
    if (typeof node !== "string" || !isCount(member) || !isCount(of)) return undefined;
    if (typeof join !== "string" || typeof gate !== "string" || typeof membership !== "string") return undefined;
    return { node, member, of, join, gate, membership };
}

export const KUBELET_CUTOVER_FACTS_KIND = "ha-control-plane/kubelet-cutover";

export interface KubeletCutoverFacts<Ref = string> {
    readonly node: string;
    /** Where SSH reaches the node (its IP, or its name in the domain). */
    readonly host: string;
    /** 0-based place in the cut-over order (topology/clusterOps.ts cutoverOrder). */
    readonly position: number;
    /** URNs of the step that rewrites kubelet.conf and restarts the kubelet, and of the wait for Ready. */
    readonly flip: Ref;
    readonly ready: Ref;
}

export function kubeletCutoverFacts<Ref>(facts: KubeletCutoverFacts<Ref>): KubeletCutoverFacts<Ref> & { readonly kind: typeof KUBELET_CUTOVER_FACTS_KIND } {
    return { kind: KUBELET_CUTOVER_FACTS_KIND, ...facts };
}

export function readKubeletCutoverFacts(value: unknown): KubeletCutoverFacts | undefined {
    const v = record(value);
    if (!v || v.kind !== KUBELET_CUTOVER_FACTS_KIND) return undefined;
    const { node, host, position, flip, ready } = v;
    if (typeof node !== "string" || typeof host !== "string" || !isCount(position, 0) || typeof flip !== "string" || typeof ready !== "string") return undefined;
    return { node, host, position, flip, ready };
}

export const PLACEMENT_FACTS_KIND = "ha-control-plane/control-plane-placement";

/**
 * Where the control plane runs, for the control-plane-spread policies: every Proxmox node (a
 * node with no master counts too: its loss costs nothing) with its capacity facts, and the
 * existing master, which no VM of the stack describes. New masters are read from their VMs.
 */
export interface PlacementFacts {
    readonly nodes: readonly NodeCapacityFacts[];
    readonly existingMaster: { readonly name: string; readonly node: string; readonly memoryGiB: number };
}

export function placementFacts(facts: PlacementFacts): PlacementFacts & { readonly kind: typeof PLACEMENT_FACTS_KIND } {
    return { kind: PLACEMENT_FACTS_KIND, ...facts };
}

export function readPlacementFacts(value: unknown): PlacementFacts | undefined {
    const v = record(value);
    if (!v || v.kind !== PLACEMENT_FACTS_KIND || !Array.isArray(v.nodes)) return undefined;
    const nodes = v.nodes.map((n: unknown) => readCapacityTrigger({ kind: CAPACITY_FACTS_KIND, ...record(n) }));
    const m = record(v.existingMaster);
    if (nodes.some((n) => !n) || !m || typeof m.name !== "string" || typeof m.node !== "string" || typeof m.memoryGiB !== "number") return undefined;
    return { nodes: nodes as NodeCapacityFacts[], existingMaster: { name: m.name, node: m.node, memoryGiB: m.memoryGiB } };
}

export const ENDPOINT_FACTS_KIND = "ha-control-plane/control-plane-endpoint";

/** What phase 0 makes the cluster's endpoint: the VIP (and its port) every client and join uses. */
export interface EndpointFacts {
    readonly vip: string;
    readonly port: number;
    /** The existing master the retrofit changes. */
    readonly master: string;
    readonly masterIp: string;
}

export function endpointFacts(facts: EndpointFacts): EndpointFacts & { readonly kind: typeof ENDPOINT_FACTS_KIND } {
    return { kind: ENDPOINT_FACTS_KIND, ...facts };
}

export function readEndpointFacts(value: unknown): EndpointFacts | undefined {
    const v = record(value);
    if (!v || v.kind !== ENDPOINT_FACTS_KIND) return undefined;
    const { vip, port, master, masterIp } = v;
    if (typeof vip !== "string" || !isCount(port) || typeof master !== "string" || typeof masterIp !== "string") return undefined;
    return { vip, port, master, masterIp };
}

// ---------------------------------------------------------------------------------------------
// Flags on the program's command lines that the policies read back. The program writes them with
// these functions, so the reader and the writer cannot drift apart.

/** The Proxmox VM a command acts on (snapshot, reset through the guest agent). */
export function vmidArg(vmId: number): string {
    return `--vmid ${vmId}`;
}

export function readVmidArgs(commandLine: string): number[] {
    return [...commandLine.matchAll(/--vmid[ =](\d+)\b/g)].map((m) => Number(m[1]));
}

/** The Kubernetes node a command acts on (`--node NAME` or `--node-name NAME`). */
export function readNodeArgs(commandLine: string): string[] {
    return [...commandLine.matchAll(/--node(?:-name)?[ =]([A-Za-z0-9.-]+)/g)].map((m) => m[1]);
}

/** The etcd member a removal must never take away (the quorum guard's --protect). */
export function protectArg(name: string): string {
    return `--protect ${name}`;
}

export function readProtectArgs(commandLine: string): string[] {
    return [...commandLine.matchAll(/--protect[ =]([A-Za-z0-9.-]+)/g)].map((m) => m[1]);
}

/** A taint the joining node must carry, as join-control-plane.sh takes it: `--taint KEY:EFFECT`. */
export function taintArg(taint: Taint): string {
    return `--taint ${taint.key}:${taint.effect}`;
}

export function readTaintArgs(commandLine: string): Taint[] {
    return [...commandLine.matchAll(/--taint[ =]([A-Za-z0-9./_-]+):(NoSchedule|PreferNoSchedule|NoExecute)\b/g)].map((m) => ({
        key: m[1],
        effect: m[2] as Taint["effect"],
    }));
}

function record(value: unknown): Record<string, unknown> | undefined {
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function isCount(value: unknown, min = 1): value is number {
    return typeof value === "number" && Number.isInteger(value) && value >= min;
}
