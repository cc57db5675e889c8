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
 * The decision behind removing one etcd member: after removal, the healthy members left must
 * still form a quorum of the remaining cluster, and the last member is never removed.
 */
export interface MemberHealth {
    readonly name: string;
    readonly healthy: boolean;
}

export type RemovalDecision =
    | { readonly allowed: true; readonly remaining: number; readonly quorum: number }
    | { readonly allowed: false; readonly reason: string; readonly unhealthy: readonly string[] };

export function decideMemberRemoval(members: readonly MemberHealth[], removing: string): RemovalDecision {
    const target = members.find((m) => m.name === removing);
    const unhealthy = members.filter((m) => m.name !== removing && !m.healthy).map((m) => m.name);
    if (!target) {
        return { allowed: false, reason: `${removing} is not an etcd member`, unhealthy };
    }
    if (members.length <= 1) {
        return { allowed: false, reason: `${removing} is the last etcd member; removing it destroys the cluster`, unhealthy };
    }
    const remaining = members.length - 1;
    const healthyRemaining = members.length - 1 - unhealthy.length;
    const needed = quorumOf(remaining);
    if (healthyRemaining < needed) {
        return {
            allowed: false,
            reason: `removing ${removing} leaves ${healthyRemaining} healthy of ${remaining} members, below quorum ${needed}`,
            unhealthy,
        };
    }
    return { allowed: true, remaining, quorum: needed };
}
