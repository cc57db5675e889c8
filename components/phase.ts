import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES, PhaseId } from "@ha-control-plane/topology";
import { childOf } from "./childOptions";

export interface PhaseArgs {
    /** The id from the phase table (ARCHITECTURE.md), e.g. "1.5". */
    readonly id: PhaseId;
    /** What the phase does, as the phase table says it. */
    readonly title: string;
    /** The phase before this one; its resources finish before any of ours start. */
    readonly previous?: Phase;
}

/**
 * One phase of the migration. Every resource of a phase is its child and depends on the
 * resources of the phases before it, so the engine creates phases in order and destroys them
 * in reverse, and the recorded graph shows the order.
 */
export class Phase extends pulumi.ComponentResource {
    readonly id: PhaseId;
    readonly title: string;
    private readonly previous?: Phase;
    private hasResources = false;

    constructor(name: string, args: PhaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.phase, name, { phase: args.id, title: args.title }, { ...opts, dependsOn: args.previous?.barrier() ?? [] });
        this.id = args.id;
        this.title = args.title;
        this.previous = args.previous;
        this.registerOutputs({ id: this.id, title: this.title });
    }

    /**
     * What a later phase waits for: this phase when it has resources, otherwise what this phase
     * itself waited for (a dependency on an empty component would vanish from the graph).
     */
    barrier(): pulumi.Resource[] {
        if (this.hasResources) return [this];
        return this.previous?.barrier() ?? [];
    }

    /**
     * Options for a resource of this phase: parented here, ordered after the earlier phases (the
     * phase waits for them as a component does) and then after `after`. Marks the phase as one
     * later phases can wait for.
     */
    childOptions(after: readonly pulumi.Resource[] = []): pulumi.CustomResourceOptions {
        this.hasResources = true;
        return childOf(this, { dependsOn: this.previous?.barrier() ?? [] }, after);
    }
}
