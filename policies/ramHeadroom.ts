import { StackValidationPolicy } from "@pulumi/policy";
import { capacityRow, describeCapacity, firstOverflowing } from "@ha-control-plane/topology";
import { capacityFacts, plannedVms } from "./resources";

/**
 * The seed deferred the migration because its Proxmox host was nearly fully committed, and new
 * masters would push it into swap and OOM. This refuses any plan whose VMs do not fit in
 * physical - host reserve - committed, per node (the figures are the stack's, from its graph).
 */
export const ramHeadroom: StackValidationPolicy = {
    name: "ram-headroom",
    description:
        "Each Proxmox node must hold the VMs this stack creates: memory committed today plus the " +
        "new masters' memory must stay within physical memory minus the host reserve.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        const vms = plannedVms(args.resources);
        if (vms.length === 0) return;
        const facts = capacityFacts(args.resources);
        const nodes = [...new Set(vms.map((vm) => vm.node))];
        for (const node of nodes) {
            // In join order (each new master is etcd member N), so the first overflow is the first phase refused.
            const onNode = vms.filter((vm) => vm.node === node).sort((a, b) => (a.member?.member ?? 0) - (b.member?.member ?? 0));
            const nodeFacts = facts.get(node);
            if (!nodeFacts) {
                reportViolation(
                    `Proxmox node ${node} gets ${onNode.map((vm) => vm.name).join(", ")} but the stack carries no capacity ` +
                        `facts for it (no capacity gate): list it in proxmox.nodes with its physical and committed memory.`,
                    onNode[0].resource.urn,
                );
                continue;
            }
            // Named at the first VM (in phase order) that no longer fits: that phase's `up` is the
            // one the operator meets the refusal at, so the plan shows it there.
            const first = firstOverflowing(nodeFacts, onNode);
            if (first) reportViolation(describeCapacity(capacityRow(nodeFacts, onNode.map((vm) => ({ name: vm.name, memoryGiB: vm.memoryGiB })))), first.resource.urn);
        }
    },
};
