/**
 * control-plane-spread: what losing one Proxmox host costs the etcd quorum. CrossGuard gives each
 * policy one enforcement level, so each case of the rule is its own entry with its own level in
 * the policy config; all three read the same facts and apply the same rule (topology/
 * failureDomains.ts judgeSpread), and only the entry of the stack's case speaks:
 *   control-plane-spread-one-node   advisory   a host failure loses every master
 *   control-plane-spread-two-nodes  advisory   which node's loss costs quorum, which does not
 *   control-plane-spread            mandatory  three or more nodes: no node may hold a quorum's
 *                                              worth of members (with a placement that would not)
 * Capacity stays per node: a spread that does not fit is ram-headroom's to refuse.
 */
import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { COMPONENT_TYPES, judgeSpread, readPlacementFacts, SpreadCase, SpreadInput } from "@ha-control-plane/topology";
import { componentFacts, plannedVms } from "./resources";

type Resources = readonly PolicyResource[];

/** The etcd members the stack has (the existing master from the placement facts, the new ones from their VMs). */
function spreadInput(resources: Resources): { input: SpreadInput; urn: string } | "no-facts" | undefined {
    const masters = plannedVms(resources)
        .filter((vm) => vm.member !== undefined)
        .sort((a, b) => a.member!.member - b.member!.member);
    if (masters.length === 0) return undefined;
    const holder = resources.find((r) => r.type === COMPONENT_TYPES.controlPlanePlacement);
    const facts = holder && readPlacementFacts(componentFacts(holder));
    if (!facts) return "no-facts";
    const existing = facts.existingMaster;
    return {
        urn: masters[masters.length - 1].resource.urn,
        input: {
            nodes: facts.nodes,
            members: [
                { name: existing.name, node: existing.node, memoryGiB: existing.memoryGiB, existing: true },
                ...masters.map((vm) => ({ name: vm.name, node: vm.node, memoryGiB: vm.memoryGiB, existing: false })),
            ],
        },
    };
}

function spreadPolicy(name: string, which: SpreadCase, enforcementLevel: "advisory" | "mandatory", description: string): StackValidationPolicy {
    return {
        name,
        description,
        enforcementLevel,
        validateStack: (args, reportViolation) => {
            const found = spreadInput(args.resources);
            if (found === undefined) return;
            if (found === "no-facts") {
                // Said once, by the entry that can refuse.
                if (which === "three-or-more-nodes") {
                    reportViolation(
                        "new masters are planned but the stack carries no placement facts (no ControlPlanePlacement component): " +
                            "which Proxmox hosts the etcd members share cannot be told, so the spread cannot be checked",
                    );
                }
                return;
            }
            const finding = judgeSpread(found.input);
            if (finding && finding.case === which) reportViolation(finding.message, found.urn);
        },
    };
}

export const controlPlaneSpreadOneNode = spreadPolicy(
    "control-plane-spread-one-node",
    "one-node",
    "advisory",
    "With one Proxmox node, says that a host failure (hypervisor crash, power loss) loses every master at once: " +
        "software HA covers upgrades and reboots, not the host.",
);

export const controlPlaneSpreadTwoNodes = spreadPolicy(
    "control-plane-spread-two-nodes",
    "two-nodes",
    "advisory",
    "With two Proxmox nodes, names the node whose loss costs etcd quorum (the majority's host, 2 of 3 in a 2+1 " +
        "spread) and the one whose loss does not.",
);

export const controlPlaneSpread = spreadPolicy(
    "control-plane-spread",
    "three-or-more-nodes",
    "mandatory",
    "With three or more Proxmox nodes, refuses a placement where one node holds as many etcd members as the quorum " +
        "(its loss would stop etcd), and names a placement that would not.",
);

/** The pack entry that speaks for each case (the plan names it next to the rule's words). */
export const SPREAD_POLICY_BY_CASE: Readonly<Record<SpreadCase, StackValidationPolicy>> = {
    "one-node": controlPlaneSpreadOneNode,
    "two-nodes": controlPlaneSpreadTwoNodes,
    "three-or-more-nodes": controlPlaneSpread,
};
