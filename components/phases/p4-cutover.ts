/**
 * Phase 4: kube-proxy first, then every worker's kubelet strictly one node at a time, each waiting
 * for the previous node to be back (control-plane kubelets keep their local apiserver, see
 * kubeletCutoverNodes); and what is left to flip by hand, for the stack output.
 */
import type * as pulumi from "@pulumi/pulumi";
import { directServerUrl, externalConsumersOutput, kubeletCutoverNodes, vipServerUrl } from "@ha-control-plane/topology";
import { ConfigMapCutover, configMapCutoverArgs, KubeletCutover, kubeletCutoverArgs } from "../clusterOps/cutover";
import type { PhaseInput, PhaseResults } from "./types";

export function cutoverPhase({ topology, secrets, phase }: PhaseInput): PhaseResults {
    const sshPrivateKey = secrets.sshPrivateKey;
    let previous: pulumi.Resource = new ConfigMapCutover(
        "kube-proxy",
        configMapCutoverArgs(topology, sshPrivateKey, "kube-system/kube-proxy", "kube-system/kube-proxy"),
        phase.childOptions(),
    );
    for (const [position, node] of kubeletCutoverNodes(topology.workers, topology.masters, topology.cluster.domain).entries()) {
        previous = new KubeletCutover(node.name, kubeletCutoverArgs(topology, sshPrivateKey, node, position), phase.childOptions([previous]));
    }
    return {
        externalConsumers: externalConsumersOutput(
            topology.clusterOps.cutover.externalConsumers,
            vipServerUrl(topology.cluster),
            directServerUrl(topology.existingMaster, topology.cluster),
        ),
    };
}
