/**
 * The dependency graph as a policy sees it (each resource's `dependencies`, which the engine
 * also walks to order creates and deletes), with "does a wait for b, directly or through
 * others" answered from a transitive closure kept as bit sets: the large bench topology has
 * ~1,500 resources and the phase-order rule asks tens of thousands of such questions.
 */
import { PolicyResource } from "@pulumi/policy";

export class DependencyGraph {
    private readonly index = new Map<PolicyResource, number>();
    private readonly words: number;
    private readonly closure: (Uint32Array | undefined)[];
    private readonly resources: readonly PolicyResource[];

    constructor(resources: readonly PolicyResource[]) {
        this.resources = resources;
        resources.forEach((r, i) => this.index.set(r, i));
        this.words = Math.ceil(resources.length / 32);
        this.closure = new Array<Uint32Array | undefined>(resources.length);
    }

    /** Whether `a` waits, directly or transitively, for `b`. */
    waitsFor(a: PolicyResource, b: PolicyResource): boolean {
        const ia = this.index.get(a);
        const ib = this.index.get(b);
        if (ia === undefined || ib === undefined) return false;
        const bits = this.ancestors(ia);
        return (bits[ib >>> 5] & (1 << (ib & 31))) !== 0;
    }

    /** Everything `i` waits for, computed once (depth-first; the graph is acyclic). */
    private ancestors(i: number): Uint32Array {
        const done = this.closure[i];
        if (done) return done;
        const bits = new Uint32Array(this.words);
        // Marks the node as in progress, so a malformed cycle ends instead of recursing forever.
        this.closure[i] = bits;
        for (const dep of this.resources[i].dependencies) {
            const j = this.index.get(dep);
            if (j === undefined || j === i) continue;
            bits[j >>> 5] |= 1 << (j & 31);
            const sub = this.ancestors(j);
            for (let w = 0; w < this.words; w++) bits[w] |= sub[w];
        }
        return bits;
    }
}
