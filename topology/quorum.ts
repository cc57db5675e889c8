/**
 * etcd quorum arithmetic, written once for the config validation, the program's gates and the
 * etcd-quorum policy.
 */

/** Members that must agree for etcd to make progress: floor(n/2)+1. */
export function quorumOf(members: number): number {
    if (!Number.isInteger(members) || members < 1) {
        throw new RangeError(`an etcd cluster has a whole, positive number of members, not ${members}`);
    }
    return Math.floor(members / 2) + 1;
}

/** Members that can fail while the rest still form a quorum. */
export function faultTolerance(members: number): number {
    return members - quorumOf(members);
}

export interface QuorumStep {
    /** Phase after which the cluster has this many members. */
    readonly phase: string;
    readonly members: number;
    readonly quorum: number;
    readonly faultTolerance: number;
}

export function quorumStep(phase: string, members: number): QuorumStep {
    return { phase, members, quorum: quorumOf(members), faultTolerance: faultTolerance(members) };
}

export type QuorumVerdict =
    | { readonly ok: true }
    | { readonly ok: false; readonly rule: string };

/**
 * The rule for a planned final control plane: an odd number of at least three members. An even
 * count adds a member that can fail without adding tolerance (4 tolerates 1, like 3); fewer than
 * three tolerates nothing.
 */
export function checkFinalControlPlane(members: number): QuorumVerdict {
    if (members < 3) {
        return {
            ok: false,
            rule: `an HA control plane needs at least 3 etcd members; ${members} tolerate${members === 1 ? "s" : ""} ${faultTolerance(Math.max(members, 1))} failure(s)`,
        };
    }
    if (members % 2 === 0) {
        return {
            ok: false,
            rule: `an even number of etcd members (${members}) tolerates no more failures than ${members - 1} (quorum ${quorumOf(members)}, fault tolerance ${faultTolerance(members)}); use an odd number`,
        };
    }
    return { ok: true };
}

/**
 * A step on the way to the final size that tolerates no failure (2 members: quorum 2). It is
 * expected while masters join one at a time, but it deserves a warning: losing either member
 * stops etcd until the other is back.
 */
export function isFragileTransition(members: number): boolean {
    return members > 1 && faultTolerance(members) === 0;
}

/**
 * The decision behind removing one etcd member: after removal, the healthy voting members left
 * must still form a quorum of the remaining voting members; the last voter is never removed, nor
 * a protected member (the original master). Learners (kubeadm joins through learner mode) do not
 * vote, so removing one never costs quorum and they never count towards it. A member that was
 * added but never started (a join that failed after `member add`) has no name yet: it is found
 * by its peer URL and is never healthy; as a learner it still does not vote, as a voter (added
 * without --learner) raft counts it like any other voter, so it weighs against quorum until it
 * is removed.
 *
 * scripts/etcd/lib.sh (`etcd_decide_removal`) applies this same rule to live data, with the same
 * arithmetic and the same order of checks; tests/etcd/quorumGuard.test.ts cross-checks the two
 * on many cases, so change both together.
 */
export interface MemberHealth {
    /** The member's name; an unstarted member has none and goes by `unstarted-<hex id>`. */
    readonly name: string;
    readonly healthy: boolean;
    /** A non-voting etcd learner (kubeadm's join adds members as learners, then promotes them). */
    readonly learner?: boolean;
    /** False for a member added but never started (no name, no client URLs). */
    readonly started?: boolean;
    readonly peerUrls?: readonly string[];
}

export interface RemovalOptions {
    /** Members that are never removed (the cluster's original master). */
    readonly protectedMembers?: readonly string[];
}

/** Which member to remove: by name, or by peer URL (the only handle on an unstarted member). */
export type MemberRef = string | { readonly name?: string; readonly peerUrl?: string };

/** Why a removal was refused, as a stable word the guard script prints too. */
export type RemovalRefusal = "not-a-member" | "protected" | "last-member" | "below-quorum";

export type RemovalDecision =
    | { readonly allowed: true; readonly remaining: number; readonly quorum: number }
    | { readonly allowed: false; readonly rule: RemovalRefusal; readonly reason: string; readonly unhealthy: readonly string[] };

/** The member a reference names: the first whose name matches, or that owns the peer URL. */
export function findMember(members: readonly MemberHealth[], ref: MemberRef): MemberHealth | undefined {
    const { name, peerUrl } = typeof ref === "string" ? { name: ref, peerUrl: undefined } : ref;
    return members.find((m) => (!!name && m.name === name) || (!!peerUrl && (m.peerUrls ?? []).includes(peerUrl)));
}

const isHealthy = (m: MemberHealth) => m.healthy && m.started !== false;

export function decideMemberRemoval(members: readonly MemberHealth[], removing: MemberRef, options: RemovalOptions = {}): RemovalDecision {
    const target = findMember(members, removing);
    const voters = members.filter((m) => !m.learner);
    const unhealthy = voters.filter((m) => m !== target && !isHealthy(m)).map((m) => m.name);
    const label = typeof removing === "string" ? removing : (removing.name ?? removing.peerUrl ?? "?");
    if (!target) {
        return { allowed: false, rule: "not-a-member", reason: `${label} is not an etcd member`, unhealthy };
    }
    if ((options.protectedMembers ?? []).includes(target.name)) {
        return {
            allowed: false,
            rule: "protected",
            reason: `${target.name} is the original master; this stack never removes it`,
            unhealthy,
        };
    }
    const remaining = target.learner ? voters.length : voters.length - 1;
    if (remaining < 1) {
        return { allowed: false, rule: "last-member", reason: `${target.name} is the last etcd member; removing it destroys the cluster`, unhealthy };
    }
    const healthyRemaining = remaining - unhealthy.length;
    const needed = quorumOf(remaining);
    if (healthyRemaining < needed) {
        return {
            allowed: false,
            rule: "below-quorum",
            reason: `removing ${target.name} leaves ${healthyRemaining} healthy of ${remaining} voting members, below quorum ${needed}`,
            unhealthy,
        };
    }
    return { allowed: true, remaining, quorum: needed };
}
