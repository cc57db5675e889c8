import * as pulumi from "@pulumi/pulumi";

/**
 * Options for a component's child. Pulumi does not pass a component's dependsOn on to its
 * children, so a component that must wait (for an earlier phase, a gate) forwards it here;
 * otherwise the engine would start the children before what the component waits for.
 */
export function childOf(parent: pulumi.Resource, opts: pulumi.ComponentResourceOptions | undefined, extra: pulumi.CustomResourceOptions = {}): pulumi.CustomResourceOptions {
    return { ...extra, parent, ...(opts?.dependsOn ? { dependsOn: opts.dependsOn } : {}) };
}
