import * as pulumi from "@pulumi/pulumi";
import { FIRST_KUBERNETES_API_PHASE, loadTopology, RawConfig, reached, Topology } from "@ha-control-plane/topology";
import { readProjectFile } from "./projectFiles";

/** The stack's secrets, as Pulumi secret outputs; the topology never holds them. */
export interface StackSecrets {
    readonly proxmoxApiToken: pulumi.Output<string>;
    readonly sshPrivateKey: pulumi.Output<string>;
    readonly dnsTsigSecret: pulumi.Output<string>;
    /** Only with an `ipam` config. */
    readonly ipamToken?: pulumi.Output<string>;
    /** `kubernetesAccess.kubeconfig`, only for a stack that reaches phase 4.5 (the Kubernetes provider's). */
    readonly kubeconfig?: pulumi.Output<string>;
}

/** Pulumi hands config over as strings, objects as JSON text; parse back to values. */
function parseConfigValue(text: string): unknown {
    const trimmed = text.trim();
    if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
        try {
            return JSON.parse(trimmed);
        } catch {
            return text;
        }
    }
    return text;
}

export function rawProjectConfig(project: string): RawConfig {
    const prefix = `${project}:`;
    const raw: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
        if (key.startsWith(prefix)) raw[key.slice(prefix.length)] = parseConfigValue(value);
    }
    return raw;
}

/**
 * Validates the whole stack config (throws a ConfigError naming every bad key before any
 * resource exists) and reads the secrets with requireSecretObject, so they stay secret.
 */
export function readStackConfig(): { topology: Topology; secrets: StackSecrets } {
    const project = pulumi.getProject();
    const topology = loadTopology(rawProjectConfig(project), { project, stack: pulumi.getStack(), readProjectFile });
    const config = new pulumi.Config(project);
    const secretField = (key: string, field: string): pulumi.Output<string> =>
        config.requireSecretObject<Record<string, string>>(key).apply((o) => o[field]);
    return {
        topology,
        secrets: {
            proxmoxApiToken: secretField("proxmox", "apiToken"),
            sshPrivateKey: secretField("ssh", "privateKey"),
            dnsTsigSecret: secretField("dns", "tsigSecret"),
            ...(topology.ipam ? { ipamToken: secretField("ipam", "token") } : {}),
            ...(reached(topology.targetPhase, FIRST_KUBERNETES_API_PHASE) ? { kubeconfig: secretField("kubernetesAccess", "kubeconfig") } : {}),
        },
    };
}
