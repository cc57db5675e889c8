/**
 * Reading the program's resources from a policy's view of the stack. The type tokens are the
 * providers' own; the facts the program leaves (capacity triggers, member tags) are decoded by
 * the pure layer's functions, the same ones the program encodes them with.
 */
import { PolicyResource, UnknownValueError } from "@pulumi/policy";
import { isComponentType, mibToGib, NodeCapacityFacts, readCapacityTrigger, readMemberTag } from "@ha-control-plane/topology";

export const VM_TYPE = "proxmoxve:index/vmLegacy:VmLegacy";
export const FILE_TYPE = "proxmoxve:index/fileLegacy:FileLegacy";
export const REMOTE_COMMAND_TYPE = "command:remote:Command";
export const LOCAL_COMMAND_TYPE = "command:local:Command";
export const COMMAND_TYPES: readonly string[] = [REMOTE_COMMAND_TYPE, LOCAL_COMMAND_TYPE];
export const CONFIGMAP_TYPE = "kubernetes:core/v1:ConfigMap";
export const CRONJOB_TYPE = "kubernetes:batch/v1:CronJob";

/**
 * Reads a property, treating a value the preview does not know yet (the CLI throws on touching
 * one) as absent: a policy then checks what it can instead of giving up on the whole stack.
 */
export function known<T>(read: () => T): T | undefined {
    try {
        return read();
    } catch (err) {
        if (err instanceof UnknownValueError) return undefined;
        throw err;
    }
}

/** A string property, or undefined when absent, unknown or not a string (a secret offline). */
export function knownString(read: () => unknown): string | undefined {
    const value = known(read);
    return typeof value === "string" ? value : undefined;
}

/** The nearest ancestor component of the given type. */
export function ownerOf(resource: PolicyResource, type: string): PolicyResource | undefined {
    for (let p = resource.parent; p; p = p.parent) if (p.type === type) return p;
    return undefined;
}

export interface Unit {
    readonly component: PolicyResource;
    /** Its custom resources (the steps the engine runs), in registration order. */
    readonly steps: PolicyResource[];
}

/** Each component of `type` with the custom resources under it. */
export function unitsOf(resources: readonly PolicyResource[], type: string): Unit[] {
    const units = new Map<PolicyResource, PolicyResource[]>();
    for (const r of resources) if (r.type === type) units.set(r, []);
    for (const r of resources) {
        if (isComponentType(r.type)) continue;
        const owner = ownerOf(r, type);
        if (owner) units.get(owner)?.push(r);
    }
    return [...units.entries()].map(([component, steps]) => ({ component, steps }));
}

/** Custom resources of these component types, directly or further down. */
export function stepsOf(resources: readonly PolicyResource[], types: readonly string[]): PolicyResource[] {
    return types.flatMap((t) => unitsOf(resources, t).flatMap((u) => u.steps));
}

/** The `facts` a component registered (topology/facts.ts), or undefined. */
export function componentFacts(component: PolicyResource): unknown {
    return known(() => component.props.facts);
}

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
