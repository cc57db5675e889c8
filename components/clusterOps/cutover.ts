/**
 * Phase 4, the cut-over to the VIP (and cluster-info, which phase 1.5 flips before the first
 * join). Every step is a remote script whose delete restores exactly what it replaced.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES, CutoverNode, directServerUrl, kubeletCutoverFacts, Topology, vipServerUrl } from "../../topology";
import { childOf } from "../childOptions";
import { RemoteScriptArgs, remoteScript, SshTarget } from "./remote";

const SCRIPT = "cluster/kubeconfig-server.sh";
export const KUBELET_CONF = "/etc/kubernetes/kubelet.conf";

function existingMasterTarget(topology: Topology, privateKey: pulumi.Output<string>): SshTarget {
    return { host: topology.existingMaster.ip, user: topology.ssh.user, privateKey };
}

/** A ConfigMap's kubeconfig to the VIP: flip on create, restore on delete (kubeconfig-server.sh). */
export function configMapFlipScript(a: { configMap: string; rollDaemonSet?: string; to: string; from: string; timeoutSeconds: number }): RemoteScriptArgs & { script: string } {
    const roll = a.rollDaemonSet ? ["--restart-daemonset", a.rollDaemonSet] : [];
    const common = ["--configmap", a.configMap, ...roll, "--wait-readyz", "--timeout", String(a.timeoutSeconds)];
    return { script: SCRIPT, args: [...common, "--to", a.to, "--from", a.from], deleteArgs: [...common, "--restore"] };
}

/**
 * A ConfigMap's cut-over on the existing master, from the topology: to the VIP from the master's
 * own URL. The component and the control-plane tests (joinAndCutover.cp.ts) share it.
 */
export function configMapCutoverScript(topology: Topology, configMap: string, rollDaemonSet?: string): RemoteScriptArgs & { readonly script: string; readonly deleteArgs: readonly string[] } {
    const flip = configMapFlipScript({
        configMap,
        ...(rollDaemonSet ? { rollDaemonSet } : {}),
        to: vipServerUrl(topology.cluster),
        from: directServerUrl(topology.existingMaster, topology.cluster),
        timeoutSeconds: topology.clusterOps.cutover.nodeReadyTimeoutSeconds,
    });
    return { ...flip, deleteArgs: flip.deleteArgs ?? [] };
}

/** A node's kubelet.conf to the VIP, the kubelet restarted: flip on create, restore on delete. */
export function kubeletFlipScript(a: { file: string; to: string; froms: readonly string[]; timeoutSeconds: number }): RemoteScriptArgs & { script: string } {
    const common = ["--file", a.file, "--restart-kubelet", "--wait-readyz", "--timeout", String(a.timeoutSeconds)];
    return { script: SCRIPT, args: [...common, "--to", a.to, ...a.froms.flatMap((f) => ["--from", f])], deleteArgs: [...common, "--restore"] };
}

export interface ConfigMapCutoverArgs {
    readonly topology: Topology;
    readonly sshPrivateKey: pulumi.Output<string>;
    /** NAMESPACE/NAME of the ConfigMap holding a kubeconfig. */
    readonly configMap: string;
    /** NAMESPACE/NAME of a DaemonSet to roll once it changed (kube-proxy). */
    readonly rollDaemonSet?: string;
}

/**
 * A kubeconfig inside a ConfigMap pointed at the VIP, from the existing master with its admin
 * kubeconfig: kube-public/cluster-info (what joining nodes discover; stale, it sends them to the
 * old address) and kube-system/kube-proxy. A ConfigMapPatch would not do: deleting a
 * server-side-apply patch drops the field it owns instead of restoring the old kubeconfig.
 */
export class ConfigMapCutover extends pulumi.ComponentResource {
    readonly flip: command.remote.Command;

    constructor(name: string, args: ConfigMapCutoverArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.configMapCutover, name, {}, opts);
        const { topology } = args;
        this.flip = remoteScript(
            `${name}-flip`,
            existingMasterTarget(topology, args.sshPrivateKey),
            configMapCutoverScript(topology, args.configMap, args.rollDaemonSet),
            childOf(this, opts),
        );
        this.registerOutputs({});
    }
}

export interface KubeletCutoverArgs {
    readonly topology: Topology;
    readonly sshPrivateKey: pulumi.Output<string>;
    readonly node: CutoverNode;
    /** Its place in the cut-over order (0 = first). */
    readonly position: number;
}

/**
 * One worker's kubelet on the VIP: kubelet.conf rewritten and the kubelet restarted on the node,
 * then, from the existing master, the wait until the node renews its lease and is Ready again.
 * The next node's cut-over depends on this whole component, so the nodes go strictly one at a
 * time; the delete puts back the server it replaced. Masters keep their local apiserver
 * (topology kubeletCutoverNodes), so no step here runs on a master that a rollback removes.
 */
export class KubeletCutover extends pulumi.ComponentResource {
    readonly flip: command.remote.Command;
    readonly ready: command.remote.Command;

    constructor(name: string, args: KubeletCutoverArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.kubeletCutover, name, {}, opts);
        const { topology, node } = args;
        const { cluster } = topology;
        const { cutover } = topology.clusterOps;
        const timeout = String(cutover.nodeReadyTimeoutSeconds);
        if (node.role !== "worker") throw new Error(`${node.name}: control-plane kubelets keep their local apiserver; only workers are cut over`);
        const froms = [directServerUrl(topology.existingMaster, cluster)];
        this.flip = remoteScript(
            `${name}-kubelet-flip`,
            { host: node.host, user: topology.ssh.user, privateKey: args.sshPrivateKey },
            kubeletFlipScript({ file: KUBELET_CONF, to: vipServerUrl(cluster), froms, timeoutSeconds: cutover.nodeReadyTimeoutSeconds }),
            childOf(this, opts),
        );
        this.ready = remoteScript(
            `${name}-kubelet-ready`,
            existingMasterTarget(topology, args.sshPrivateKey),
            {
                script: "cluster/node-ready-wait.sh",
                args: ["--node", node.name, "--timeout", timeout, "--settle", String(cutover.settleSeconds)],
            },
            childOf(this, opts, [this.flip]),
        );
        // Which step flips and which waits, for the phase-order policy.
        this.registerOutputs({ facts: kubeletCutoverFacts({ node: node.name, host: node.host, position: args.position, flip: this.flip.urn, ready: this.ready.urn }) });
    }
}
