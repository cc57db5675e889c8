/**
 * Reading the program's resources from a policy's view of the stack. The type tokens are the
 * providers' own; the facts the program leaves (capacity triggers, member tags) are decoded by
 * the pure layer's functions, the same ones the program encodes them with.
 */
import { PolicyResource } from "@pulumi/policy";
import { mibToGib, NodeCapacityFacts, readCapacityTrigger, readMemberTag } from "../topology";

export const VM_TYPE = "proxmoxve:index/vmLegacy:VmLegacy";
export const REMOTE_COMMAND_TYPE = "command:remote:Command";

/** What the Proxmox provider allocates when a VM sets no memory (its default). */
const PROVIDER_DEFAULT_MEMORY_MIB = 512;

export interface PlannedVmView {
    readonly resource: PolicyResource;
    readonly name: string;
    readonly node: string;
    readonly vmId?: number;
    readonly memoryGiB: number;
    readonly member?: { readonly member: number; readonly of: number };
}

export function plannedVms(resources: readonly PolicyResource[]): PlannedVmView[] {
    return resources
        .filter((r) => r.type === VM_TYPE)
        .map((r) => {
            const props = r.props as { name?: string; nodeName?: string; vmId?: number; memory?: { dedicated?: number }; tags?: unknown[] };
            const member = readMemberTag(props.tags ?? []);
            return {
                resource: r,
                name: props.name ?? r.name,
                node: props.nodeName ?? "",
                ...(typeof props.vmId === "number" ? { vmId: props.vmId } : {}),
                memoryGiB: mibToGib(props.memory?.dedicated ?? PROVIDER_DEFAULT_MEMORY_MIB),
                ...(member ? { member } : {}),
            };
        });
}

/** Capacity facts per Proxmox node, from the capacity gates' triggers. */
export function capacityFacts(resources: readonly PolicyResource[]): Map<string, NodeCapacityFacts> {
    const facts = new Map<string, NodeCapacityFacts>();
    for (const r of resources) {
        if (r.type !== REMOTE_COMMAND_TYPE) continue;
        const triggers: unknown[] = Array.isArray(r.props.triggers) ? r.props.triggers : [];
        for (const trigger of triggers) {
            const f = readCapacityTrigger(trigger);
            if (f) facts.set(f.node, f);
        }
    }
    return facts;
}
