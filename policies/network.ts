/**
 * vip-conflicts: the VIP the program actually configures (phase 0's endpoint, the load
 * balancer's frontend) must not collide with the gateway, the MetalLB pool or a node. The
 * addresses the graph carries (new masters' VMs, pool servers, cut-over hosts) are checked
 * along with the ones the policy config lists; the gateway and the MetalLB pool are in no
 * resource, so they come from the config (policies/<stack>.json, derived from the topology).
 */
import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { COMPONENT_TYPES, isIPv4, parseRange, readEndpointFacts, readKubeletCutoverFacts, vipConflicts } from "@ha-control-plane/topology";
import { shippedPools } from "./loadBalancer";
import { componentFacts, known, plannedVms, unitsOf } from "./resources";

export interface VipConflictsConfig {
    readonly gateway?: string;
    readonly metallbPool?: string;
    /** Node name to IPv4 address, for nodes whose address no resource carries. */
    readonly nodeAddresses?: Record<string, string>;
}

interface VipUse {
    readonly vip: string;
    readonly where: string;
    readonly resource: PolicyResource;
}

function vipUses(resources: readonly PolicyResource[]): VipUse[] {
    const uses: VipUse[] = [];
    for (const { component } of unitsOf(resources, COMPONENT_TYPES.retrofit)) {
        const facts = readEndpointFacts(componentFacts(component));
        if (facts) uses.push({ vip: facts.vip, where: `phase 0's controlPlaneEndpoint ${facts.vip}:${facts.port}`, resource: component });
    }
    for (const { resource, pool } of shippedPools(resources)) {
        if (pool?.frontend) uses.push({ vip: pool.frontend.address, where: `the load balancer frontend ${pool.frontend.address}:${pool.frontend.port}`, resource });
    }
    return uses;
}

/** Node addresses the graph carries, by node name. */
function graphNodes(resources: readonly PolicyResource[]): { name: string; ip: string }[] {
    const nodes: { name: string; ip: string }[] = [];
    for (const vm of plannedVms(resources)) {
        const address = known(() => (vm.resource.props.initialization as { ipConfigs?: { ipv4?: { address?: unknown } }[] } | undefined)?.ipConfigs?.[0]?.ipv4?.address);
        if (typeof address === "string") nodes.push({ name: vm.name, ip: address.split("/")[0] });
    }
    for (const { component } of unitsOf(resources, COMPONENT_TYPES.retrofit)) {
        const facts = readEndpointFacts(componentFacts(component));
        if (facts) nodes.push({ name: facts.master, ip: facts.masterIp });
    }
    for (const { pool } of shippedPools(resources)) for (const s of pool?.servers ?? []) nodes.push({ name: s.name, ip: s.address });
    for (const { component } of unitsOf(resources, COMPONENT_TYPES.kubeletCutover)) {
        const facts = readKubeletCutoverFacts(componentFacts(component));
        if (facts && isIPv4(facts.host)) nodes.push({ name: facts.node, ip: facts.host });
    }
    return nodes;
}

/** The gateway the new masters' VMs are given (their network config names it). */
function vmGateways(resources: readonly PolicyResource[]): string[] {
    return plannedVms(resources).flatMap((vm) => {
        const gw = known(() => (vm.resource.props.initialization as { ipConfigs?: { ipv4?: { gateway?: unknown } }[] } | undefined)?.ipConfigs?.[0]?.ipv4?.gateway);
        return typeof gw === "string" ? [gw] : [];
    });
}

export const vipConflictsPolicy: StackValidationPolicy = {
    name: "vip-conflicts",
    description:
        "The apiserver VIP (phase 0's endpoint, the load balancer frontend) is not a node's address, not the gateway, " +
        "and not inside the MetalLB pool: any of these would send apiserver traffic to the wrong host.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            gateway: { type: "string", description: "The cluster subnet's gateway (cluster.gateway)." },
            metallbPool: { type: "string", description: "MetalLB's address pool, FIRST-LAST or a CIDR (cluster.metallbPool)." },
            nodeAddresses: { type: "object", default: {}, description: "Node name to IPv4 address for every node with a fixed address (masters, workers)." },
        },
        required: ["gateway", "metallbPool"],
    },
    validateStack: (args, reportViolation) => {
        const config = args.getConfig<VipConflictsConfig>();
        const uses = vipUses(args.resources);
        if (uses.length === 0) return;
        const pool = config.metallbPool ? parseRange(config.metallbPool) : undefined;
        if (!config.gateway || !pool) {
            reportViolation(
                `cannot check the VIP ${uses[0].vip}: the policy config gives no ${!config.gateway ? "gateway" : "valid metallbPool"} ` +
                    `(pass --policy-pack-config policies/<stack>.json; npm run plan derives it from the stack)`,
            );
        }
        const nodes = [
            ...Object.entries(config.nodeAddresses ?? {}).map(([name, ip]) => ({ name, ip: String(ip) })),
            ...graphNodes(args.resources),
        ];
        const gateways = [...new Set([...(config.gateway ? [config.gateway] : []), ...vmGateways(args.resources)])];
        const reported = new Set<string>();
        for (const use of uses) {
            const reasons = new Set([
                ...gateways.flatMap((gateway) => vipConflicts(use.vip, { gateway })),
                ...vipConflicts(use.vip, { ...(pool ? { metallbPool: pool } : {}), nodes }),
            ]);
            for (const reason of reasons) {
                const message = `the apiserver VIP ${use.vip} (${use.where}) cannot work: ${reason}`;
                if (reported.has(message)) continue;
                reported.add(message);
                reportViolation(message, use.resource.urn);
            }
        }
    },
};
