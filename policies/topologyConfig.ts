/**
 * The policy config a topology implies: the facts some policies need that no resource of the
 * stack carries (the gateway, the MetalLB pool, the existing master's VMID and name). The
 * offline plan uses this for any stack; policies/<stack>.json holds the same values for the
 * CLI, and a test keeps policies/lab.json equal to what the lab topology implies.
 */
import { Topology } from "@ha-control-plane/topology";

export type DerivedPolicyConfig = Record<string, Record<string, unknown>>;

export function policyConfigFromTopology(topology: Topology): DerivedPolicyConfig {
    const { cluster, existingMaster } = topology;
    const nodeAddresses: Record<string, string> = {};
    for (const m of topology.masters) nodeAddresses[m.name] = m.ip;
    for (const w of topology.workers) if (w.ip) nodeAddresses[w.name] = w.ip;
    return {
        "vip-conflicts": {
            gateway: cluster.gateway,
            metallbPool: `${cluster.metallbPool.first}-${cluster.metallbPool.last}`,
            nodeAddresses,
        },
        "original-master-protected": { vmId: existingMaster.vmId, name: existingMaster.name },
    };
}

/** Where a config file's values differ from what the topology implies, in words. */
export function policyConfigDrift(derived: DerivedPolicyConfig, given: Readonly<Record<string, unknown>>): string[] {
    const out: string[] = [];
    for (const [policy, properties] of Object.entries(derived)) {
        const entry = (given[policy] ?? {}) as Record<string, unknown>;
        for (const [key, value] of Object.entries(properties)) {
            if (entry[key] === undefined) continue;
            if (JSON.stringify(entry[key]) !== JSON.stringify(value)) {
                out.push(`${policy}.${key} is ${JSON.stringify(entry[key])} but the stack's topology implies ${JSON.stringify(value)}`);
            }
        }
    }
    return out;
}
