/**
 * Phase 4, the cut-over to the VIP (and cluster-info, which phase 1.5 flips before the first
 * join). Every step is a remote script whose delete restores exactly what it replaced.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES, CutoverNode, directServerUrl, kubeletCutoverFacts, Topology, vipServerUrl } from "@ha-control-plane/topology";
import { childOf } from "../childOptions";
import type { StepHost } from "../remoteStep";
import type { ScriptId } from "../scriptManifest";
import { RemoteScriptArgs, remoteScript, SshTarget } from "./remote";

const SCRIPT: ScriptId = "cluster/kubeconfig-server.sh";
export const KUBELET_CONF = "/etc/kubernetes/kubelet.conf";

/** What a ConfigMap's flip changes: which kubeconfig, to which server from which. */
export interface ConfigMapFlip {
    /** NAMESPACE/NAME of the ConfigMap holding a kubeconfig. */
    readonly configMap: string;
    /** NAMESPACE/NAME of a DaemonSet to roll once it changed (kube-proxy). */
    readonly rollDaemonSet?: string;
    /** The server it gets (the VIP's URL). */
    readonly to: string;
    /** The server it must have now (the existing master's own URL); anything else is refused. */
    readonly from: string;
    /** How long the script waits for /readyz through the new server. */
    readonly timeoutSeconds: number;
}

/** A ConfigMap's kubeconfig to the VIP: flip on create, restore on delete (kubeconfig-server.sh). */
export function configMapFlipScript(a: ConfigMapFlip): RemoteScriptArgs {
    const roll = a.rollDaemonSet ? ["--restart-daemonset", a.rollDaemonSet] : [];
    const common = ["--configmap", a.configMap, ...roll, "--wait-readyz", "--timeout", String(a.timeoutSeconds)];
    return { script: SCRIPT, args: [...common, "--to", a.to, "--from", a.from], deleteArgs: [...common, "--restore"] };
}

/**
 * A ConfigMap's cut-over on the existing master, from the topology: to the VIP from the master's
 * own URL. The component and the control-plane tests (joinAndCutover.cp.ts) share it.
 */
export function configMapCutoverScript(topology: Topology, configMap: string, rollDaemonSet?: string): RemoteScriptArgs & { readonly deleteArgs: readonly string[] } {
    const flip = configMapFlipScript(configMapFlip(topology, configMap, rollDaemonSet));
    return { ...flip, deleteArgs: flip.deleteArgs ?? [] };
}

/** A ConfigMap's flip from the topology: to the VIP from the existing master's own URL. */
function configMapFlip(topology: Topology, configMap: string, rollDaemonSet?: string): ConfigMapFlip {
    return {
        configMap,
        ...(rollDaemonSet ? { rollDaemonSet } : {}),
        to: vipServerUrl(topology.cluster),
        from: directServerUrl(topology.existingMaster, topology.cluster),
        timeoutSeconds: topology.clusterOps.cutover.nodeReadyTimeoutSeconds,
    };
}

/** The existing master as a step's host: where the ConfigMap flips and the Ready waits run. */
export function existingMasterHost(topology: Topology): StepHost {
    return { name: topology.existingMaster.name, address: topology.existingMaster.ip };
}

/** ConfigMapCutover's inputs from the topology (phases 1.5 and 4). */
export function configMapCutoverArgs(topology: Topology, sshPrivateKey: pulumi.Output<string>, configMap: string, rollDaemonSet?: string): ConfigMapCutoverArgs {
    return { host: existingMasterHost(topology), sshUser: topology.ssh.user, sshPrivateKey, flip: configMapFlip(topology, configMap, rollDaemonSet) };
}

/** A node's kubelet.conf to the VIP, the kubelet restarted: flip on create, restore on delete. */
export function kubeletFlipScript(a: { file: string; to: string; froms: readonly string[]; timeoutSeconds: number }): RemoteScriptArgs {
    const common = ["--file", a.file, "--restart-kubelet", "--wait-readyz", "--timeout", String(a.timeoutSeconds)];
    return { script: SCRIPT, args: [...common, "--to", a.to, ...a.froms.flatMap((f) => ["--from", f])], deleteArgs: [...common, "--restore"] };
}

export interface ConfigMapCutoverArgs {
    /** Where the flip runs with the admin kubeconfig: the existing master. */
    readonly host: StepHost;
    /** The SSH user there (sudo for root unless it is root). */
    readonly sshUser: string;
    /** A Pulumi secret, never shown. */
    readonly sshPrivateKey: pulumi.Output<string>;
    /** Which ConfigMap, to which server from which. */
    readonly flip: ConfigMapFlip;
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
        const { host, flip } = args;
        super(
            COMPONENT_TYPES.configMapCutover,
            name,
            { host: host.name, address: host.address, configMap: flip.configMap, ...(flip.rollDaemonSet ? { rollDaemonSet: flip.rollDaemonSet } : {}), to: flip.to, from: flip.from },
            opts,
        );
        const target: SshTarget = { name: host.name, host: host.address, user: args.sshUser, privateKey: args.sshPrivateKey };
        this.flip = remoteScript(`${name}-flip`, target, configMapFlipScript(flip), childOf(this, opts));
        this.registerOutputs({});
    }
}

export interface KubeletCutoverArgs {
    /** The worker: its name and where SSH reaches it. */
    readonly node: CutoverNode;
    /** Its place in the cut-over order (0 = first). */
    readonly position: number;
    /** Where the Ready wait runs with the admin kubeconfig: the existing master. */
    readonly waitHost: StepHost;
    /** The SSH user on every node (sudo for root unless it is root). */
    readonly sshUser: string;
    /** A Pulumi secret, never shown. */
    readonly sshPrivateKey: pulumi.Output<string>;
    /** The server kubelet.conf gets (the VIP's URL). */
    readonly to: string;
    /** The servers it may have now (the existing master's own URL); anything else is refused. */
    readonly froms: readonly string[];
    /** How long the flip waits for /readyz and the wait for the node to be Ready. */
    readonly timeoutSeconds: number;
    /** How long the node must stay Ready before the next one starts. */
    readonly settleSeconds: number;
}

/** KubeletCutover's inputs from the topology for one worker at its place in the order (phase 4). */
export function kubeletCutoverArgs(topology: Topology, sshPrivateKey: pulumi.Output<string>, node: CutoverNode, position: number): KubeletCutoverArgs {
    const { cutover } = topology.clusterOps;
    return {
        node,
        position,
        waitHost: existingMasterHost(topology),
        sshUser: topology.ssh.user,
        sshPrivateKey,
        to: vipServerUrl(topology.cluster),
        froms: [directServerUrl(topology.existingMaster, topology.cluster)],
        timeoutSeconds: cutover.nodeReadyTimeoutSeconds,
        settleSeconds: cutover.settleSeconds,
    };
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
        const { node, waitHost, to, froms } = args;
        super(
            COMPONENT_TYPES.kubeletCutover,
            name,
            { node: node.name, address: node.host, position: args.position, to, froms: [...froms], waitsOn: waitHost.name },
            opts,
        );
        if (node.role !== "worker") throw new Error(`${node.name}: control-plane kubelets keep their local apiserver; only workers are cut over`);
        const login = { user: args.sshUser, privateKey: args.sshPrivateKey };
        this.flip = remoteScript(
            `${name}-kubelet-flip`,
            { name: node.name, host: node.host, ...login },
            kubeletFlipScript({ file: KUBELET_CONF, to, froms, timeoutSeconds: args.timeoutSeconds }),
            childOf(this, opts),
        );
        this.ready = remoteScript(
            `${name}-kubelet-ready`,
            { name: waitHost.name, host: waitHost.address, ...login },
            {
                script: "cluster/node-ready-wait.sh",
                args: ["--node", node.name, "--timeout", String(args.timeoutSeconds), "--settle", String(args.settleSeconds)],
            },
            childOf(this, opts, [this.flip]),
        );
        // Which step flips and which waits, for the phase-order policy.
        this.registerOutputs({ facts: kubeletCutoverFacts({ node: node.name, host: node.host, position: args.position, flip: this.flip.urn, ready: this.ready.urn }) });
    }
}
