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
    protectArg,
    taintArg,
    Topology,
    vmidArg,
} from "../../topology";
import { noRerunOnUpdate, rerunOnUpdate } from "../commandLifecycle";
import type { ShippedCommand } from "../shipped";
import { sshConnection } from "../sshConnection";
import { bundleScript, shellQuote, withSecretEnv } from "./bundle";
import { childOf } from "../childOptions";
import { asRoot } from "./options";

export interface ControlPlaneJoinArgs {
    readonly topology: Topology;
    readonly placement: NewMasterPlacement;
    readonly sshPrivateKey: pulumi.Output<string>;
    /**
     * Steps other phases need on the node before `kubeadm join` (e.g. phase 1.5's audit policy
     * file, which a joining apiserver needs when the ClusterConfiguration names it). Called once
     * the node is ready; the join waits for what it returns.
     */
    readonly beforeJoin?: (ready: pulumi.Resource) => pulumi.Resource[];
}

/** `bash -s --` as root for an SSH user: the script arrives on stdin. */
function rootShell(sshUser: string): string {
    return `${asRoot(sshUser)}bash -s --`;
}

/** ready: on the new node, cloud-init done and the pinned versions installed. */
export function nodeReadyCommand(a: { sshUser: string; kubernetesVersion: string; minContainerd: string; cloudInitTimeoutSeconds: number }): ShippedCommand {
    return {
        create: `${rootShell(a.sshUser)} --kubernetes-version ${a.kubernetesVersion} --min-containerd ${a.minContainerd} --cloud-init-timeout ${a.cloudInitTimeoutSeconds}`,
        stdin: bundleScript({ libs: ["kubeadm/lib.sh"], main: "kubeadm/node-ready.sh" }),
    };
}

/** node-reset: on the Proxmox node, through the guest agent; create only checks the agent. */
export function nodeResetCommand(a: { pveSshUser: string; vmId: number; node: string; timeoutSeconds: number }): ShippedCommand {
    const shell = `${asRoot(a.pveSshUser)}bash -s --`;
    return {
        create: `${shell} --check ${vmidArg(a.vmId)} --node-name ${a.node}`,
        delete: `${shell} ${vmidArg(a.vmId)} --node-name ${a.node} --timeout ${a.timeoutSeconds}`,
        stdin: bundleScript({ embed: ["kubeadm/reset-node.sh"], main: "kubeadm/reset-node-via-agent.sh" }),
    };
}

/** etcd-membership: on the existing master, the pre-join check; its delete is the guarded removal. */
export function etcdMembershipCommand(a: { sshUser: string; node: string; peerUrl: string; protect: string; drainTimeoutSeconds: number; timeoutSeconds: number }): ShippedCommand {
    const memberArgs = `--node ${a.node} --peer-url ${a.peerUrl}`;
    return {
        create: `${rootShell(a.sshUser)} pre-join ${memberArgs}`,
        delete: `${rootShell(a.sshUser)} remove ${memberArgs} ${protectArg(a.protect)} --drain-timeout ${a.drainTimeoutSeconds} --timeout ${a.timeoutSeconds}`,
        stdin: bundleScript({ libs: ["kubeadm/lib.sh", "etcd/lib.sh"], main: "kubeadm/control-plane-member.sh" }),
    };
}

/** join-material: on the existing master; the token and key come in front of stdin (withSecretEnv). */
export function joinMaterialCommand(a: { sshUser: string; ttl: string; node: string }): ShippedCommand {
    return {
        create: `${rootShell(a.sshUser)} create --ttl ${a.ttl} --description ${shellQuote(`ha-control-plane join of ${a.node}`)}`,
        delete: `${rootShell(a.sshUser)} revoke`,
        stdin: bundleScript({ libs: ["kubeadm/lib.sh"], main: "kubeadm/join-material.sh" }),
    };
}

/** The join material step for a master of a topology: the component's and the control-plane tests'. */
export function joinMaterialStep(topology: Topology, master: Topology["newMasters"][number]): ShippedCommand & { readonly delete: string; readonly script: string } {
    const step = joinMaterialCommand({ sshUser: topology.ssh.user, ttl: topology.kubeadm.joinTokenTtl, node: master.name });
    return { ...step, delete: step.delete ?? "", script: step.stdin };
}

/** join: on the new node, through the VIP; the material comes in front of stdin (withSecretEnv). */
export function joinCommand(a: { sshUser: string; endpoint: string; advertiseAddress: string; node: string; taint: string; timeoutSeconds: number }): ShippedCommand {
    return {
        // The taint is explicit (kubeadm's default today): the script makes sure the node
        // carries it, and the control-plane-taint policy can see it.
        create: `${rootShell(a.sshUser)} --endpoint ${a.endpoint} --advertise-address ${a.advertiseAddress} --node-name ${a.node} ${a.taint} --timeout ${a.timeoutSeconds}`,
        stdin: bundleScript({ libs: ["kubeadm/lib.sh"], main: "kubeadm/join-control-plane.sh" }),
    };
}

/** gate: on the existing master, after the join. */
export function joinGateCommand(a: { sshUser: string; node: string; members: readonly string[]; later: readonly string[]; timeoutSeconds: number }): ShippedCommand {
    return {
        create: [
            `${rootShell(a.sshUser)} --node ${a.node} --members ${a.members.join(",")}`,
            ...(a.later.length > 0 ? [`--later ${a.later.join(",")}`] : []),
            `--timeout ${a.timeoutSeconds}`,
        ].join(" "),
        stdin: bundleScript({ libs: ["kubeadm/lib.sh", "etcd/lib.sh"], main: "kubeadm/control-plane-gate.sh" }),
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
 * Destroy runs in reverse: LB membership (which depends on the gate) first, then the guarded
 * removal, then the node reset, then the VM.
 */
export class ControlPlaneJoin extends pulumi.ComponentResource {
    readonly ready: command.remote.Command;
    readonly nodeReset: command.remote.Command;
    readonly membership: command.remote.Command;
    readonly material: command.remote.Command;
    readonly join: command.remote.Command;
    readonly gate: command.remote.Command;

    constructor(name: string, args: ControlPlaneJoinArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.controlPlaneJoin, name, {}, opts);
        const { topology, placement } = args;
        const { master } = placement;
        const { kubeadm, existingMaster } = topology;
        const pve = topology.proxmox.nodes.find((n) => n.name === master.node);
        if (!pve) throw new Error(`${master.name}'s Proxmox node ${master.node} is not in proxmox.nodes`);
        const sshUser = topology.ssh.user;
        // A fresh VM answers SSH only once cloud-init has set up the user: allow for the boot.
        const onNode = { ...sshConnection(master.ip, topology.ssh.user, args.sshPrivateKey), dialErrorLimit: 90 };
        const onExisting = sshConnection(existingMaster.ip, topology.ssh.user, args.sshPrivateKey);
        const peerUrl = etcdPeerUrl(master.ip);

        this.ready = new command.remote.Command(
            `${name}-ready`,
            {
                connection: onNode,
                // Read-only check: an update re-runs it.
                ...rerunOnUpdate(nodeReadyCommand({
                    sshUser,
                    kubernetesVersion: topology.kubernetesVersion,
                    minContainerd: kubeadm.minContainerdVersion,
                    cloudInitTimeoutSeconds: kubeadm.cloudInitTimeoutSeconds,
                })),
                logging: Logging.StdoutAndStderr,
            },
            childOf(this, opts),
        );

        this.nodeReset = new command.remote.Command(
            `${name}-node-reset`,
            {
                connection: sshConnection(pve.address, topology.proxmox.sshUser, args.sshPrivateKey),
                ...nodeResetCommand({ pveSshUser: topology.proxmox.sshUser, vmId: master.vmId, node: master.name, timeoutSeconds: 300 }),
                // Its create only reports; what matters is its delete (the reset). No triggers: a
                // replace would reset a member node.
                ...noRerunOnUpdate("node-reset"),
                logging: Logging.StdoutAndStderr,
            },
            childOf(this, opts, [this.ready]),
        );

        this.membership = new command.remote.Command(
            `${name}-etcd-membership`,
            {
                connection: onExisting,
                ...etcdMembershipCommand({
                    sshUser,
                    node: master.name,
                    peerUrl,
                    protect: existingMaster.name,
                    drainTimeoutSeconds: kubeadm.drainTimeoutSeconds,
                    timeoutSeconds: kubeadm.gateTimeoutSeconds,
                }),
                // The pre-join check means nothing once joined. No triggers: a replace runs the
                // delete, the guarded member removal.
                ...noRerunOnUpdate("etcd-membership"),
                logging: Logging.StdoutAndStderr,
            },
            childOf(this, opts, [this.nodeReset]),
        );

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

        const material = joinMaterialStep(topology, master);
        this.material = new command.remote.Command(
            `${name}-join-material`,
            {
                connection: onExisting,
                create: material.create,
                delete: material.delete,
                stdin: withSecretEnv(secrets, material.stdin),
                // A re-run mints a token nobody uses. No triggers: fresh material is `pulumi up
                // --replace` (the join's message says so). The update's output replaces stdout,
                // which only the join's create reads.
                ...noRerunOnUpdate("join-material"),
                logging: Logging.None,
            },
            // Replacing the material (`pulumi up --replace`, when it expired) revokes the old token
            // before creating it again: the other order would revoke the fresh one.
            childOf(this, opts, [this.membership], { ...SECRET_OUTPUTS, deleteBeforeReplace: true }),
        );

        const join = joinCommand({
            sshUser,
            endpoint: controlPlaneEndpoint(topology.cluster),
            advertiseAddress: master.ip,
            node: master.name,
            taint: taintArg(CONTROL_PLANE_TAINT),
            timeoutSeconds: kubeadm.joinTimeoutSeconds,
        });
        this.join = new command.remote.Command(
            `${name}-join`,
            {
                connection: onNode,
                create: join.create,
                // Joined once. No triggers: the join has no delete, so a replace would only run
                // kubeadm join on a member again; re-joining is a rollback and an up.
                ...noRerunOnUpdate("join"),
                stdin: withSecretEnv(
                    {
                        ...secrets,
                        JOIN_MATERIAL: this.material.stdout,
                        JOIN_MATERIAL_REFRESH: pulumi.interpolate`pulumi up --replace '${this.material.urn}'`,
                    },
                    join.stdin,
                ),
                logging: Logging.None,
            },
            childOf(this, opts, [this.material, this.ready, ...(args.beforeJoin?.(this.ready) ?? [])], SECRET_OUTPUTS),
        );

        const { members, later } = membersAfterJoin(topology, placement);
        this.gate = new command.remote.Command(
            `${name}-gate`,
            {
                connection: onExisting,
                // A gate: an update re-runs it.
                ...rerunOnUpdate(joinGateCommand({ sshUser, node: master.name, members, later, timeoutSeconds: kubeadm.gateTimeoutSeconds })),
                logging: Logging.StdoutAndStderr,
            },
            childOf(this, opts, [this.join]),
        );

        // Which step is the join and which the gate, for the policies (phase-order, control-plane-taint).
        this.registerOutputs({
            gate: this.gate.stdout,
            facts: joinFacts({ node: master.name, member: placement.member, of: placement.of, join: this.join.urn, gate: this.gate.urn, membership: this.membership.urn }),
        });
    }
}
