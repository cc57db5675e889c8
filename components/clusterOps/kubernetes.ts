/**
 * What the in-cluster components (phases 4.5 to 7) share: the stack's labels and the ConfigMap
 * that carries scripts/cluster files with their figures. Their Kubernetes provider comes with
 * each component's options (components/stack.ts creates it).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { renderEnvFile } from "@ha-control-plane/topology";
import { scriptText } from "../scriptFile";

/** Labels every Kubernetes object of this stack carries. */
export function stackLabels(stack: string, name: string): Record<string, string> {
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": "ha-control-plane",
        "app.kubernetes.io/managed-by": "pulumi",
        "ha-control-plane/stack": stack,
    };
}

export interface ScriptsConfigMapSpec {
    readonly name: string;
    readonly namespace: string;
    /** Files under scripts/cluster, mounted side by side (the scripts find each other there). */
    readonly scripts: readonly string[];
    /** An env file of KEY=VALUE lines with the figures from the topology, e.g. gate.env. */
    readonly env?: { readonly file: string; readonly values: Readonly<Record<string, string | number>> };
}

/** The ConfigMap a Job or DaemonSet mounts to run scripts/cluster files: the scripts and their figures. */
export function scriptsConfigMap(resourceName: string, stack: string, spec: ScriptsConfigMapSpec, opts: pulumi.CustomResourceOptions): k8s.core.v1.ConfigMap {
    const data: Record<string, string> = Object.fromEntries(spec.scripts.map((f) => [f, scriptText(`cluster/${f}`)]));
    if (spec.env) data[spec.env.file] = renderEnvFile(spec.env.values);
    return new k8s.core.v1.ConfigMap(
        resourceName,
        { metadata: { name: spec.name, namespace: spec.namespace, labels: stackLabels(stack, spec.name) }, data },
        opts,
    );
}
