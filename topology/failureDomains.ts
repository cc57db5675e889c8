/**
 * Failure domains: each Proxmox node is one. A host that fails takes every master on it, so the
 * question per node is how many etcd members survive its loss and whether they still form a
 * quorum. The plan prints this and the control-plane-spread policies judge it, both through the
 * functions here; the quorum arithmetic is topology/quorum.ts's, the capacity arithmetic
 * topology/capacity.ts's.
 */
import { capacityRow, nodeFacts } from "./capacity";
import { quorumOf } from "./quorum";
import type { MasterSpec, NodeCapacityFacts, Topology } from "./types";

/** An etcd member and the Proxmox node its VM runs on. */
export interface MemberPlacement {
    readonly name: string;
    readonly node: string;
}

export interface FailureDomain {
    readonly node: string;
    readonly members: readonly string[];
    /** Members left if this node fails. */
    readonly survivorsIfLost: number;
    readonly quorumKeptIfLost: boolean;
}

/** Per node (config order, then any node only a member names): who runs there and what its loss costs. */
export function failureDomains(nodes: readonly string[], members: readonly MemberPlacement[]): FailureDomain[] {
    const names = [...new Set([...nodes, ...members.map((m) => m.node)])];
    const total = members.length;
    return names.map((node) => {
        const on = members.filter((m) => m.node === node).map((m) => m.name);
        const survivorsIfLost = total - on.length;
        return { node, members: on, survivorsIfLost, quorumKeptIfLost: total > 0 && survivorsIfLost >= quorumOf(total) };
    });
}

/** The three cases of the spread rule, by how many Proxmox nodes the stack has. */
export type SpreadCase = "one-node" | "two-nodes" | "three-or-more-nodes";

export function spreadCase(nodeCount: number): SpreadCase {
    if (nodeCount <= 1) return "one-node";
    return nodeCount === 2 ? "two-nodes" : "three-or-more-nodes";
}

/** A member as the spread rule needs it: where it runs, its RAM (for a placement that fits), whether it can move. */
export interface SpreadMember extends MemberPlacement {
    readonly memoryGiB: number;
    /** The existing master: never moved (the stack does not own its VM). */
    readonly existing: boolean;
}

export interface SpreadInput {
    /** Every Proxmox node of the stack, with the capacity facts a suggested placement is checked against. */
    readonly nodes: readonly NodeCapacityFacts[];
    readonly members: readonly SpreadMember[];
}

/** The spread rule's input for some of a topology's masters (those a phase has), as the plan looks at it. */
export function spreadInputOf(topology: Topology, masters: readonly MasterSpec[]): SpreadInput {
    return {
        nodes: topology.proxmox.nodes.map(nodeFacts),
        members: masters.map((m) => ({ name: m.name, node: m.node, memoryGiB: m.memoryGiB, existing: m.existing })),
    };
}

export interface SpreadFinding {
    readonly case: SpreadCase;
    /** Only the three-or-more case refuses; the others are advice. */
    readonly refused: boolean;
    readonly message: string;
    readonly domains: readonly FailureDomain[];
    /** Three or more nodes, refused: a placement where no node holds a quorum's worth of members. */
    readonly suggestion?: readonly MemberPlacement[];
}

const list = (names: readonly string[]): string => names.join(", ");

/** What losing one node costs, in words: "losing pve (a, b) leaves 1 of 3, below quorum 2: ...". */
export function lossWords(d: FailureDomain, total: number): string {
    const who = d.members.length ? `${d.node} (${list(d.members)})` : `${d.node} (no member)`;
    return d.quorumKeptIfLost
        ? `losing ${who} leaves ${d.survivorsIfLost} of ${total}, quorum kept`
        : `losing ${who} leaves ${d.survivorsIfLost} of ${total}, below quorum ${quorumOf(total)}: etcd stops until it is back`;
}

/**
 * Places the members that can move so that each node holds as few as possible: every movable
 * member goes to a node with the fewest members so far, preferring one where it still fits
 * (capacity rule), then the most headroom, then config order. With three or more nodes no node
 * ends up with a quorum's worth (at most ceil(n/3) of n members, below floor(n/2)+1 for n >= 2).
 */
export function spreadPlacement(input: SpreadInput): MemberPlacement[] {
    const placed: SpreadMember[] = input.members.filter((m) => m.existing);
    for (const member of input.members.filter((m) => !m.existing)) {
        const options = input.nodes.map((facts, order) => {
            const row = capacityRow(
                facts,
                [...placed.filter((p) => p.node === facts.node && !p.existing), member].map((p) => ({ name: p.name, memoryGiB: p.memoryGiB })),
            );
            return { node: facts.node, order, count: placed.filter((p) => p.node === facts.node).length, fits: row.fits, headroom: row.headroomGiB };
        });
        options.sort((a, b) => a.count - b.count || Number(b.fits) - Number(a.fits) || b.headroom - a.headroom || a.order - b.order);
        placed.push({ ...member, node: options[0].node });
    }
    // In the members' own order, as the config lists them.
    return input.members.map((m) => ({ name: m.name, node: placed.find((p) => p.name === m.name)!.node }));
}

/**
 * The spread rule for the etcd members a stack has (at its target phase, or once every master
 * joined). A single member is lost with its host wherever it runs, so there is nothing to judge
 * before the second member. One node: advice that a host failure loses every master. Two nodes:
 * advice naming which node's loss costs quorum and which does not. Three or more: refused when a
 * node holds as many members as the quorum, with a placement that would not.
 */
export function judgeSpread(input: SpreadInput): SpreadFinding | undefined {
    const total = input.members.length;
    if (total < 2) return undefined;
    const nodes = input.nodes.map((n) => n.node);
    const domains = failureDomains(nodes, input.members);
    const which = spreadCase(nodes.length);
    const names = input.members.map((m) => m.name);
    if (which === "one-node") {
        const who = total === 2 ? `both etcd members (${list(names)})` : `all ${total} etcd members (${list(names)})`;
        return {
            case: which,
            refused: false,
            domains,
            message:
                `${who} run on Proxmox node ${nodes[0]}, the stack's only node: a host failure (hypervisor crash, power loss, ` +
                `a host reboot) loses every master at once. Software HA still covers kubeadm upgrades, certificate rotation ` +
                `and planned master reboots; for host failures add a second Proxmox node and spread the masters 2+1 (the ` +
                `seed's revisit trigger 1).`,
        };
    }
    if (which === "two-nodes") {
        const costly = domains.filter((d) => !d.quorumKeptIfLost).map((d) => d.node);
        return {
            case: which,
            refused: false,
            domains,
            message:
                `etcd members on two Proxmox nodes: ${domains.map((d) => lossWords(d, total)).join("; ")}. ` +
                `With two hosts, ${costly.length === domains.length ? "either host's" : `${list(costly)}'s`} loss costs quorum: ` +
                `the node holding the majority stays a single point of failure; a third node, one member each, removes it.`,
        };
    }
    const quorum = quorumOf(total);
    const crowded = domains.filter((d) => d.members.length >= quorum);
    if (crowded.length === 0) return undefined;
    const suggestion = spreadPlacement(input);
    const existing = new Set(input.members.filter((m) => m.existing).map((m) => m.name));
    const proposal = suggestion.map((p) => `${p.name} on ${p.node}${existing.has(p.name) ? " (existing, stays)" : ""}`);
    const misfits = input.nodes
        .map((facts) =>
            capacityRow(
                facts,
                input.members.filter((m) => !m.existing && suggestion.find((p) => p.name === m.name)!.node === facts.node).map((m) => ({ name: m.name, memoryGiB: m.memoryGiB })),
            ),
        )
        .filter((row) => row.planned.length > 0 && !row.fits);
    const capacityNote = misfits.length
        ? ` At today's figures it does not fit: ${misfits.map((r) => `${r.node} over by ${-r.headroomGiB} GiB`).join(", ")} (ram-headroom would refuse it).`
        : "";
    const d = crowded[0];
    return {
        case: which,
        refused: true,
        domains,
        suggestion,
        message:
            `Proxmox node ${d.node} holds ${d.members.length} of the ${total} etcd members (${list(d.members)}), as many as the ` +
            `quorum (${quorum}): losing that one host stops etcd, although the stack has ${nodes.length} nodes. A placement ` +
            `that keeps quorum through any one host's loss: ${list(proposal)} (masters[].node).${capacityNote}`,
    };
}
