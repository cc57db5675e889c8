import * as pulumi from "@pulumi/pulumi";
import { childOf } from "../childOptions";

/**
 * Options for a child of a kubeadm component: parented to it, waiting for what the component waits
 * for (childOf forwards that, since Pulumi does not) and for `after`, the earlier steps inside the
 * component. Order matters twice: create runs in this order, destroy (the rollback) in reverse.
 */
export function stepOptions(
    parent: pulumi.Resource,
    opts: pulumi.ComponentResourceOptions | undefined,
    after: readonly pulumi.Resource[] = [],
    extra: pulumi.CustomResourceOptions = {},
): pulumi.CustomResourceOptions {
    const base = childOf(parent, opts, extra);
    const inherited = base.dependsOn;
    let list: pulumi.Input<pulumi.Resource>[];
    if (inherited === undefined) list = [];
    else if (Array.isArray(inherited)) list = inherited;
    else if (pulumi.Resource.isInstance(inherited)) list = [inherited];
    else throw new Error("kubeadm components expect dependsOn as a resource or a list of resources");
    return { ...base, dependsOn: [...list, ...after] };
}

/** `sudo` for a non-root SSH user; commands must not wait for a password. */
export function asRoot(user: string): string {
    return user === "root" ? "" : "sudo -n ";
}
