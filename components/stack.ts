/**
 * The orchestrator: one Phase component per phase up to the target, in table order, each filled
 * by its builder from components/phases/registry.ts with what the earlier phases returned.
 */
import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PhaseId, phasesUpTo, Topology } from "@ha-control-plane/topology";
import type { ExternalConsumerOutput } from "@ha-control-plane/topology";
import { Phase } from "./phase";
import { phaseEntry } from "./phases/registry";
import { mergeResults, PhaseResults } from "./phases/types";
import { StackSecrets } from "./stackConfig";

export interface StackOutputs {
    readonly targetPhase: PhaseId;
    readonly phases: string[];
    readonly vip: string;
    readonly controlPlaneEndpoint: string;
    readonly newMasters: Record<string, { ip: string; vmId: pulumi.Output<number | undefined> }>;
    /** From phase 4: what is left to point at the VIP by hand, with the URL to put in. */
    readonly externalConsumers?: readonly ExternalConsumerOutput[];
}

/** The Proxmox provider, created on first use, so phases without Proxmox resources register none. */
function lazyProxmoxProvider(topology: Topology, secrets: StackSecrets): () => proxmoxve.Provider {
    let provider: proxmoxve.Provider | undefined;
    return () =>
        (provider ??= new proxmoxve.Provider("proxmox", {
            endpoint: topology.proxmox.endpoint,
            apiToken: secrets.proxmoxApiToken,
            insecure: topology.proxmox.insecure,
            // Snippet uploads go over SSH to the node.
            ssh: {
                username: topology.proxmox.sshUser,
                privateKey: secrets.sshPrivateKey,
                nodes: topology.proxmox.nodes.map((n) => ({ name: n.name, address: n.address })),
            },
        }));
}

/**
 * The Kubernetes provider of phases 4.5 to 7. Its kubeconfig is the secret
 * `kubernetesAccess.kubeconfig`, a secret from the config to the provider's state.
 */
export function kubernetesProvider(topology: Topology, kubeconfig: pulumi.Output<string>): k8s.Provider {
    const { context } = topology.clusterOps.kubernetesAccess;
    return new k8s.Provider("kubernetes", { kubeconfig, ...(context ? { context } : {}) });
}

/** The Kubernetes provider, created on first use (earlier phases register none). */
function lazyKubernetesProvider(topology: Topology, secrets: StackSecrets): () => k8s.Provider {
    let provider: k8s.Provider | undefined;
    return () => {
        if (!secrets.kubeconfig) throw new Error(`target phase ${topology.targetPhase} registers no Kubernetes resources, so the stack read no kubeconfig`);
        return (provider ??= kubernetesProvider(topology, secrets.kubeconfig));
    };
}

/** The Phase component's name: "phase-1-5" for phase 1.5 (part of every URN under it). */
export const phaseResourceName = (id: PhaseId): string => `phase-${id.replace(".", "-")}`;

/** Registers the phase chain up to the topology's target phase. */
export function defineStack(topology: Topology, secrets: StackSecrets): StackOutputs {
    const proxmoxProvider = lazyProxmoxProvider(topology, secrets);
    const kubernetesProvider = lazyKubernetesProvider(topology, secrets);
    let results: PhaseResults = {};
    let previous: Phase | undefined;
    for (const info of phasesUpTo(topology.targetPhase)) {
        const phase: Phase = new Phase(phaseResourceName(info.id), { id: info.id, title: info.title, previous });
        results = mergeResults(results, phaseEntry(info.id).build({ topology, secrets, phase, earlier: results, proxmoxProvider, kubernetesProvider }));
        previous = phase;
    }
    return {
        targetPhase: topology.targetPhase,
        phases: phasesUpTo(topology.targetPhase).map((p) => p.id),
        vip: topology.cluster.vip,
        controlPlaneEndpoint: `${topology.cluster.vip}:${topology.cluster.apiserverPort}`,
        newMasters: Object.fromEntries((results.newMasters ?? []).map(({ name, vm }) => [name, { ip: vm.ip, vmId: vm.vm.vmId }])),
        ...(results.externalConsumers ? { externalConsumers: results.externalConsumers } : {}),
    };
}
