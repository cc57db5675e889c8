import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { renderEnvFile, Topology } from "../../topology";
import { scriptText } from "../scriptFile";

const providers = new WeakMap<Topology, k8s.Provider>();

/**
 * The Kubernetes provider of phases 4.5 to 7, created on first use (earlier phases register
 * none). Its kubeconfig is the secret `kubernetesAccess.kubeconfig`, read as a secret so it stays
 * one from the config to the provider's state.
 */
export function kubernetesProvider(topology: Topology): k8s.Provider {
    let provider = providers.get(topology);
    if (!provider) {
        const access = new pulumi.Config(topology.project).requireSecretObject<{ kubeconfig?: string }>("kubernetesAccess");
        const { context } = topology.clusterOps.kubernetesAccess;
        provider = new k8s.Provider("kubernetes", {
            kubeconfig: access.apply((a) => a.kubeconfig ?? ""),
            ...(context ? { context } : {}),
        });
        providers.set(topology, provider);
    }
    return provider;
}

/** Labels every Kubernetes object of this stack carries. */
export function stackLabels(topology: Topology, name: string): Record<string, string> {
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": "ha-control-plane",
        "app.kubernetes.io/managed-by": "pulumi",
        "ha-control-plane/stack": topology.stack,
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
export function scriptsConfigMap(resourceName: string, topology: Topology, spec: ScriptsConfigMapSpec, opts: pulumi.CustomResourceOptions): k8s.core.v1.ConfigMap {
    const data: Record<string, string> = Object.fromEntries(spec.scripts.map((f) => [f, scriptText(`cluster/${f}`)]));
    if (spec.env) data[spec.env.file] = renderEnvFile(spec.env.values);
    return new k8s.core.v1.ConfigMap(
        resourceName,
        { metadata: { name: spec.name, namespace: spec.namespace, labels: stackLabels(topology, spec.name) }, data },
        opts,
    );
}
