import * as pulumi from "@pulumi/pulumi";

/**
 * The one way to build a child's options: parented to `parent`, waiting for what the parent
 * waits for and then for `after` (earlier steps of the same component, a gate), with `extra`
 * (provider, deleteBeforeReplace, additionalSecretOutputs, ...) on top. Pulumi does not pass a
 * component's dependsOn on to its children, so without this the engine would start them before
 * what the component waits for. Order matters twice: create runs in this order, destroy (the
 * rollback) in reverse. Phase.childOptions uses it for a phase's own children.
 */
export function childOf(
    parent: pulumi.Resource,
    opts: pulumi.ComponentResourceOptions | undefined,
    after: readonly pulumi.Resource[] = [],
    extra: pulumi.CustomResourceOptions = {},
): pulumi.CustomResourceOptions {
    const inherited = opts?.dependsOn;
    if (after.length === 0) return { ...extra, parent, ...(inherited ? { dependsOn: inherited } : {}) };
    let list: pulumi.Input<pulumi.Resource>[];
    if (inherited === undefined) list = [];
    else if (Array.isArray(inherited)) list = inherited;
    else if (pulumi.Resource.isInstance(inherited)) list = [inherited];
    else throw new Error(`${parent.constructor.name}: a component that orders its children expects dependsOn as a resource or a list of resources`);
    return { ...extra, parent, dependsOn: [...list, ...after] };
}

/**
 * The provider of class `kind` a component was given in its options (`provider` or
 * `providers`), for its children. Throws without one: a child without a provider would fall
 * back to the ambient default provider (the operator's own kubeconfig), never the stack's.
 */
export function providerFromOptions<P extends pulumi.ProviderResource>(
    component: string,
    opts: pulumi.ComponentResourceOptions | undefined,
    kind: abstract new (...args: never[]) => P,
): P {
    const given = [opts?.provider, ...(Array.isArray(opts?.providers) ? opts.providers : Object.values(opts?.providers ?? {}))];
    const provider = given.find((p): p is P => p instanceof kind);
    if (!provider) throw new Error(`${component}: its options carry no provider of the kind its children need (${kind.name})`);
    return provider;
}
