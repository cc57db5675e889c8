/**
 * The order the migration must keep, as a rule over a dependency graph: the program builds this
 * order with the phase chain (components/phase.ts) and the per-master pipeline (stack.ts); the
 * phase-order policy checks the graph the engine will actually walk against it. Pure: the caller
 * supplies the steps and how to ask "does a wait, directly or through others, for b".
 */

export interface JoinStep<T> {
    /** The new master's node name (for the message). */
    readonly node: string;
    /** Its etcd member position: the order the joins must follow. */
    readonly member: number;
    /** The `kubeadm join` step and the gate after it. */
    readonly join: T;
    readonly gate: T;
}

export interface KubeletCutoverStep<T> {
    readonly node: string;
    /** Its place in the cut-over order. */
    readonly position: number;
    /** kubelet.conf rewritten and the kubelet restarted; then the wait until the node is Ready. */
    readonly flip: T;
    readonly ready: T;
}

export interface PhaseOrderGraph<T> {
    /** Every step of phase 0's retrofit of the existing master. */
    readonly retrofit: readonly T[];
    /** Every step of the load balancer phase (VIP, pool, frontend, DNS name). */
    readonly loadBalancer: readonly T[];
    readonly joins: readonly JoinStep<T>[];
    readonly kubeletCutovers: readonly KubeletCutoverStep<T>[];
    /** Whether `a` waits, directly or transitively, for `b`. */
    waitsFor(a: T, b: T): boolean;
    /** How to name a step in a message. */
    label(step: T): string;
}

export interface PhaseOrderViolation<T> {
    readonly message: string;
    /** The step that waits too little. */
    readonly at?: T;
}

function firstMissing<T>(g: PhaseOrderGraph<T>, step: T, prerequisites: readonly T[]): T | undefined {
    return prerequisites.find((p) => !g.waitsFor(step, p));
}

/**
 * The rule, as the issue states it:
 *  - every join waits for the whole phase 0 retrofit (a master must not join an endpoint the
 *    existing master's certificate does not cover yet) and for the whole load balancer phase
 *    (the join goes through the VIP);
 *  - each join waits for the previous master's gate (one member at a time: etcd passes through
 *    member counts that tolerate no failure, and a second join in flight makes that worse);
 *  - every kubelet cut-over waits for every master's gate (the VIP must have all masters behind
 *    it before nodes depend on it);
 *  - the kubelet flips form one chain: each waits for the previous node to be Ready again, so
 *    at most one kubelet restarts at a time.
 */
export function checkPhaseOrder<T>(g: PhaseOrderGraph<T>): PhaseOrderViolation<T>[] {
    const out: PhaseOrderViolation<T>[] = [];
    const joins = [...g.joins].sort((a, b) => a.member - b.member);
    if (joins.length > 0 && g.retrofit.length === 0) {
        out.push({ message: `the stack joins ${joins.map((j) => j.node).join(", ")} but has no phase 0 retrofit: the existing master's certificate would not cover the VIP they join through` });
    }
    if (joins.length > 0 && g.loadBalancer.length === 0) {
        out.push({ message: `the stack joins ${joins.map((j) => j.node).join(", ")} but has no load balancer phase: they would join a VIP nobody answers on` });
    }
    for (const [i, j] of joins.entries()) {
        const retrofit = firstMissing(g, j.join, g.retrofit);
        if (retrofit !== undefined) {
            out.push({
                at: j.join,
                message: `${j.node}'s join does not wait for the phase 0 retrofit (${g.label(retrofit)}): it could join before the existing master's certificate covers the VIP and before kubeadm-config names it as the endpoint`,
            });
        }
        const lb = firstMissing(g, j.join, g.loadBalancer);
        if (lb !== undefined) {
            out.push({
                at: j.join,
                message: `${j.node}'s join does not wait for the load balancer phase (${g.label(lb)}): it joins through the VIP, which may not answer yet`,
            });
        }
        const previous = joins[i - 1];
        if (previous && !g.waitsFor(j.join, previous.gate)) {
            out.push({
                at: j.join,
                message: `${j.node}'s join (etcd member ${j.member}) does not wait for ${previous.node}'s gate (member ${previous.member}): two masters could join at once, while etcd is at a member count that tolerates no failure`,
            });
        }
    }
    const cutovers = [...g.kubeletCutovers].sort((a, b) => a.position - b.position);
    for (const [i, k] of cutovers.entries()) {
        const join = joins.find((j) => !g.waitsFor(k.flip, j.gate));
        if (join) {
            out.push({
                at: k.flip,
                message: `the kubelet cut-over of ${k.node} does not wait for ${join.node}'s join and gate: the node would move to the VIP before every master is behind it`,
            });
        }
        const previous = cutovers[i - 1];
        if (previous && !g.waitsFor(k.flip, previous.ready)) {
            out.push({
                at: k.flip,
                message: `the kubelet flips are not one chain: ${k.node}'s flip does not wait for ${previous.node} to be Ready again, so two kubelets could restart at once`,
            });
        }
    }
    return out;
}
