/**
 * How the program leaves facts in the resource graph for the policies to read. Policies see
 * only resources and their inputs, so the program puts the capacity facts on the capacity gate
 * (as its triggers, which also re-run the gate when they change) and each new master's etcd
 * position on its VM's tags (visible in the Proxmox UI too). Both sides use these functions.
 */
import type { NodeCapacityFacts } from "./capacity";

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

export function readMemberTag(tags: readonly unknown[]): { member: number; of: number } | undefined {
    for (const tag of tags) {
        const m = typeof tag === "string" ? /^etcd-member-(\d+)-of-(\d+)$/.exec(tag) : null;
        if (m) return { member: Number(m[1]), of: Number(m[2]) };
    }
    return undefined;
}
