import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import {
    BOOTSTRAP_TOKEN_ALPHABET,
    BOOTSTRAP_TOKEN_ID_LENGTH,
    BOOTSTRAP_TOKEN_SECRET_LENGTH,
    CERTIFICATE_KEY_BYTES,
    COMPONENT_TYPES,
    CONTROL_PLANE_TAINT,
    controlPlaneEndpoint,
    etcdPeerUrl,
    joinFacts,
    membersAfterJoin,
    NewMasterPlacement,
    Topology,
} from "@ha-control-plane/topology";
import { noRerunOnUpdate } from "../commandLifecycle";
import { RemoteStep, shipStep, StepHost, StepSpec } from "../remoteStep";
import type { ShippedCommand } from "../shipped";
import { secretEnvLines } from "./bundle";
import { childOf } from "../childOptions";

export type NodeReadyArgs = { kubernetesVersion: string; minContainerd: string; cloudInitTimeoutSeconds: number };

/** ready: on the new node, cloud-init done and the pinned versions installed. */
export function nodeReadyStep(a: NodeReadyArgs): StepSpec {
    return {
        script: "kubeadm/node-ready.sh",
        runAs: "root",
        args: ["--kubernetes-version", a.kubernetesVersion, "--min-containerd", a.minContainerd, "--cloud-init-timeout", String(a.cloudInitTimeoutSeconds)],
    };
}

/** What the ready step ships for an SSH user (the script tests run exactly this). */
export function nodeReadyCommand(a: NodeReadyArgs & { sshUser: string }): ShippedCommand {
    return shipStep(a.sshUser, nodeReadyStep(a));
}

export type NodeResetArgs = { vmId: number; node: string; timeoutSeconds: number };

/** node-reset: on the Proxmox node, through the guest agent; create only checks the agent. */
export function nodeResetStep(a: NodeResetArgs): StepSpec {
    const target = ["--vmid", String(a.vmId), "--node-name", a.node];
    return { script: "kubeadm/reset-node-via-agent.sh", runAs: "root", args: ["--check", ...target], deleteArgs: [...target, "--timeout", String(a.timeoutSeconds)] };
}

/** What the reset ships for the Proxmox SSH user. */
export function nodeResetCommand(a: NodeResetArgs & { pveSshUser: string }): ShippedCommand {
    return shipStep(a.pveSshUser, nodeResetStep(a));
}

export type EtcdMembershipArgs = { node: string; peerUrl: string; protect: string; drainTimeoutSeconds: number; timeoutSeconds: number };

/** etcd-membership: on the existing master, the pre-join check; its delete is the guarded removal. */
export function etcdMembershipStep(a: EtcdMembershipArgs): StepSpec {
    const member = ["--node", a.node, "--peer-url", a.peerUrl];
    return {
        script: "kubeadm/control-plane-member.sh",
        runAs: "root",
        args: ["pre-join", ...member],
        deleteArgs: ["remove", ...member, "--protect", a.protect, "--drain-timeout", String(a.drainTimeoutSeconds), "--timeout", String(a.timeoutSeconds)],
    };
}

/** What the membership step ships for an SSH user. */
export function etcdMembershipCommand(a: EtcdMembershipArgs & { sshUser: string }): ShippedCommand {
    return shipStep(a.sshUser, etcdMembershipStep(a));
}

export type JoinMaterialArgs = { ttl: string; node: string };

/** join-material: on the existing master; the token and key come in front of stdin (secretStdin). */
export function joinMaterialStepSpec(a: JoinMaterialArgs): StepSpec {
    return {
        script: "kubeadm/join-material.sh",
        runAs: "root",
        args: ["create", "--ttl", a.ttl, "--description", `ha-control-plane join of ${a.node}`],
        deleteArgs: ["revoke"],
    };
}

/** What the join material step ships for an SSH user (without the secrets in front). */
export function joinMaterialCommand(a: JoinMaterialArgs & { sshUser: string }): ShippedCommand {
    return shipStep(a.sshUser, joinMaterialStepSpec(a));
}

export type JoinArgs = {
    endpoint: string;
    advertiseAddress: string;
    node: string;
    /** The taint the node must carry, KEY:EFFECT (kubeadm's default today); none when empty. */
    taint: string;
    timeoutSeconds: number;
};

/** join: on the new node, through the VIP; the material comes in front of stdin (secretStdin). */
export function joinStep(a: JoinArgs): StepSpec {
    return {
        script: "kubeadm/join-control-plane.sh",
        runAs: "root",
        // The taint is explicit: the script makes sure the node carries it, and the
        // control-plane-taint policy can see it.
        args: ["--endpoint", a.endpoint, "--advertise-address", a.advertiseAddress, "--node-name", a.node, ...(a.taint ? ["--taint", a.taint] : []), "--timeout", String(a.timeoutSeconds)],
    };
}

/** What the join ships for an SSH user (without the secrets in front). */
export function joinCommand(a: JoinArgs & { sshUser: string }): ShippedCommand {
    return shipStep(a.sshUser, joinStep(a));
}

export type JoinGateArgs = { node: string; members: readonly string[]; later: readonly string[]; timeoutSeconds: number };

/** gate: on the existing master, after the join. */
export function joinGateStep(a: JoinGateArgs): StepSpec {
    return {
        script: "kubeadm/control-plane-gate.sh",
        runAs: "root",
        args: ["--node", a.node, "--members", a.members.join(","), ...(a.later.length > 0 ? ["--later", a.later.join(",")] : []), "--timeout", String(a.timeoutSeconds)],
    };
}

/** What the gate ships for an SSH user. */
export function joinGateCommand(a: JoinGateArgs & { sshUser: string }): ShippedCommand {
    return shipStep(a.sshUser, joinGateStep(a));
}

export interface ControlPlaneJoinArgs {
    /** The new master: its name and the address SSH dials (ready and join run there). */
    readonly node: StepHost;
    /** The existing master: where the etcd membership, the join material and the gate run. */
    readonly existingMaster: StepHost;
    /** The new master's Proxmox node: where the reset runs, through the VM's guest agent. */
    readonly proxmoxNode: StepHost;
    /** The SSH user on the masters (sudo for root unless it is root). */
    readonly sshUser: string;
    /** The SSH user on the Proxmox nodes. */
    readonly proxmoxSshUser: string;
    /** One key for all of them (a Pulumi secret, never shown). */
    readonly sshPrivateKey: pulumi.Output<string>;
    /** The node check: the pinned Kubernetes version, the minimum containerd, the cloud-init wait. */
    readonly ready: NodeReadyArgs;
    /** The reset on rollback: the VM's VMID, the node name, the timeout. */
    readonly reset: NodeResetArgs;
    /** The etcd member: node, peer URL, the master the removal protects, its timeouts. */
    readonly membership: EtcdMembershipArgs;
    /** The join material: the token's TTL and the node it is for. */
    readonly material: JoinMaterialArgs;
    /** The join: the endpoint on the VIP, the advertise address, the taint, the timeout. */
    readonly join: JoinArgs;
    /** The gate: the members expected after the join, those still to come, the timeout. */
    readonly gate: JoinGateArgs;
    /** The node's 1-based position in etcd once joined, and the planned control-plane size (for the policies). */
    readonly member: number;
    readonly of: number;
    /**
     * Steps other phases need on the node before `kubeadm join` (e.g. phase 1.5's audit policy
     * file, which a joining apiserver needs when the ClusterConfiguration names it). Called once
     * the node is ready; the join waits for what it returns.
     */
    readonly beforeJoin?: (ready: pulumi.Resource) => pulumi.Resource[];
}

/** A new master's join inputs from the topology and its placement. */
export function controlPlaneJoinArgs(
    topology: Topology,
    placement: NewMasterPlacement,
    sshPrivateKey: pulumi.Output<string>,
    beforeJoin?: ControlPlaneJoinArgs["beforeJoin"],
): ControlPlaneJoinArgs {
    const { master } = placement;
    const { kubeadm, existingMaster } = topology;
    const pve = topology.proxmox.nodes.find((n) => n.name === master.node);
    if (!pve) throw new Error(`${master.name}'s Proxmox node ${master.node} is not in proxmox.nodes`);
    const { members, later } = membersAfterJoin(topology, placement);
    return {
        node: { name: master.name, address: master.ip },
        existingMaster: { name: existingMaster.name, address: existingMaster.ip },
        proxmoxNode: { name: pve.name, address: pve.address },
        sshUser: topology.ssh.user,
        proxmoxSshUser: topology.proxmox.sshUser,
        sshPrivateKey,
        ready: { kubernetesVersion: topology.kubernetesVersion, minContainerd: kubeadm.minContainerdVersion, cloudInitTimeoutSeconds: kubeadm.cloudInitTimeoutSeconds },
        reset: { vmId: master.vmId, node: master.name, timeoutSeconds: 300 },
        membership: { node: master.name, peerUrl: etcdPeerUrl(master.ip), protect: existingMaster.name, drainTimeoutSeconds: kubeadm.drainTimeoutSeconds, timeoutSeconds: kubeadm.gateTimeoutSeconds },
        material: { ttl: kubeadm.joinTokenTtl, node: master.name },
        join: {
            endpoint: controlPlaneEndpoint(topology.cluster),
            advertiseAddress: master.ip,
            node: master.name,
            taint: `${CONTROL_PLANE_TAINT.key}:${CONTROL_PLANE_TAINT.effect}`,
            timeoutSeconds: kubeadm.joinTimeoutSeconds,
        },
        gate: { node: master.name, members, later, timeoutSeconds: kubeadm.gateTimeoutSeconds },
        member: placement.member,
        of: placement.of,
        ...(beforeJoin ? { beforeJoin } : {}),
    };
}

const Logging = command.types.enums.remote.Logging;
/** For commands that carry a token or the certificate key: nothing logged, outputs secret. */
const SECRET_OUTPUTS: pulumi.CustomResourceOptions = { additionalSecretOutputs: ["stdout", "stderr"] };

/**
 * One new master into the control plane (seed plan 2.2 to 2.7, 3.2 to 3.7), after its VM and
 * strictly after the previous master's gate (components/phases/p2-p3-new-masters.ts passes both
 * in dependsOn). Steps, in order:
 *   ready            on the new node: cloud-init done, kubeadm/kubelet = kubernetesVersion,
 *                    containerd >= kubeadm.minContainerdVersion;
 *   node-reset       on the Proxmox node; create only reports on the VM's guest agent. Its
 *                    delete is the last step of a rollback: kubeadm reset and CNI/iptables
 *                    clean-up inside the VM through the guest agent (works without the VM's
 *                    network), tolerated when the VM does not answer;
 *   etcd-membership  on the existing master: create checks every etcd member is healthy before
 *                    the cluster grows; delete is the guarded removal (quorum guard, drain,
 *                    leadership moved away, member removed by id, node deleted), which also
 *                    runs when a join failed half-way;
 *   token-id, token-secret, certificate-key   fresh join material from @pulumi/random;
 *   join-material    on the existing master: upload-certs with the key, the token with a short
 *                    TTL, the CA hash; logs nothing, outputs secret;
 *   join             on the new node: kubeadm join through the VIP; logs nothing, outputs secret;
 *   gate             on the existing master: node Ready, four static pods, etcd members and
 *                    health, the control-plane taint. Fails the up when the join did not take.
 * Each remote step is a RemoteStep (host and script shown in a preview), its command keeping the
 * URN it had directly under the join. Destroy runs in reverse: LB membership (which depends on
 * the gate) first, then the guarded removal, then the node reset, then the VM.
 */
export class ControlPlaneJoin extends pulumi.ComponentResource {
    readonly ready: command.remote.Command;
    readonly nodeReset: command.remote.Command;
    readonly membership: command.remote.Command;
    readonly material: command.remote.Command;
    readonly join: command.remote.Command;
    readonly gate: command.remote.Command;

    constructor(name: string, args: ControlPlaneJoinArgs, opts?: pulumi.ComponentResourceOptions) {
        const { node, existingMaster, proxmoxNode } = args;
        super(
            COMPONENT_TYPES.controlPlaneJoin,
            name,
            {
                node: node.name,
                address: node.address,
                existingMaster: `${existingMaster.name} ${existingMaster.address}`,
                proxmoxNode: `${proxmoxNode.name} ${proxmoxNode.address}`,
                vmId: args.reset.vmId,
                endpoint: args.join.endpoint,
                member: `${args.member} of ${args.of}`,
                membersAfterJoin: [...args.gate.members],
                kubernetesVersion: args.ready.kubernetesVersion,
            },
            opts,
        );
        const login = { user: args.sshUser, privateKey: args.sshPrivateKey, formerParent: this };
        // A fresh VM answers SSH only once cloud-init has set up the user: allow for the boot.
        const onNode = { ...login, host: node, dialErrorLimit: 90 };
        const onExisting = { ...login, host: existingMaster };

        // Read-only check: an update re-runs it (the default).
        this.ready = new RemoteStep(`${name}-ready`, { ...onNode, ...nodeReadyStep(args.ready) }, childOf(this, opts)).command;

        this.nodeReset = new RemoteStep(
            `${name}-node-reset`,
            {
                host: proxmoxNode,
                user: args.proxmoxSshUser,
                privateKey: args.sshPrivateKey,
                formerParent: this,
                ...nodeResetStep(args.reset),
                // Its create only reports; what matters is its delete (the reset). No triggers: a
                // replace would reset a member node.
                update: noRerunOnUpdate("node-reset"),
            },
            childOf(this, opts, [this.ready]),
        ).command;

        this.membership = new RemoteStep(
            `${name}-etcd-membership`,
            {
                ...onExisting,
                ...etcdMembershipStep(args.membership),
                // The pre-join check means nothing once joined. No triggers: a replace runs the
                // delete, the guarded member removal.
                update: noRerunOnUpdate("etcd-membership"),
            },
            childOf(this, opts, [this.nodeReset]),
        ).command;

        const childOpts = childOf(this, opts);
        const tokenId = new random.RandomString(`${name}-token-id`, { length: BOOTSTRAP_TOKEN_ID_LENGTH, ...BOOTSTRAP_TOKEN_ALPHABET }, childOpts);
        const tokenSecret = new random.RandomPassword(
            `${name}-token-secret`,
            { length: BOOTSTRAP_TOKEN_SECRET_LENGTH, ...BOOTSTRAP_TOKEN_ALPHABET },
            childOpts,
        );
        const certificateKey = new random.RandomBytes(`${name}-certificate-key`, { length: CERTIFICATE_KEY_BYTES }, childOpts);
        const secrets = {
            KUBEADM_TOKEN: pulumi.secret(pulumi.interpolate`${tokenId.result}.${tokenSecret.result}`),
            KUBEADM_CERTIFICATE_KEY: pulumi.secret(certificateKey.hex),
        };

        this.material = new RemoteStep(
            `${name}-join-material`,
            {
                ...onExisting,
                ...joinMaterialStepSpec(args.material),
                secretStdin: secretEnvLines(secrets),
                // A re-run mints a token nobody uses. No triggers: fresh material is `pulumi up
                // --replace` (the join's message says so). The update's output replaces stdout,
                // which only the join's create reads.
                update: noRerunOnUpdate("join-material"),
                logging: Logging.None,
                // Replacing the material (`pulumi up --replace`, when it expired) revokes the old
                // token before creating it again: the other order would revoke the fresh one.
                commandOptions: { ...SECRET_OUTPUTS, deleteBeforeReplace: true },
            },
            childOf(this, opts, [this.membership]),
        ).command;

        this.join = new RemoteStep(
            `${name}-join`,
            {
                ...onNode,
                ...joinStep(args.join),
                secretStdin: secretEnvLines({
                    ...secrets,
                    JOIN_MATERIAL: this.material.stdout,
                    JOIN_MATERIAL_REFRESH: pulumi.interpolate`pulumi up --replace '${this.material.urn}'`,
                }),
                // Joined once. No triggers: the join has no delete, so a replace would only run
                // kubeadm join on a member again; re-joining is a rollback and an up.
                update: noRerunOnUpdate("join"),
                logging: Logging.None,
                commandOptions: SECRET_OUTPUTS,
            },
            childOf(this, opts, [this.material, this.ready, ...(args.beforeJoin?.(this.ready) ?? [])]),
        ).command;

        // A gate: an update re-runs it (the default).
        this.gate = new RemoteStep(`${name}-gate`, { ...onExisting, ...joinGateStep(args.gate) }, childOf(this, opts, [this.join])).command;

        // Which step is the join and which the gate, for the policies (phase-order, control-plane-taint).
        this.registerOutputs({
            gate: this.gate.stdout,
            facts: joinFacts({ node: node.name, member: args.member, of: args.of, join: this.join.urn, gate: this.gate.urn, membership: this.membership.urn }),
        });
    }
}
