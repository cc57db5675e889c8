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
import { sshConnection } from "../sshConnection";
import { bundleScript, shellQuote, withSecretEnv } from "./bundle";
import { asRoot, stepOptions } from "./options";

/**
 * The join-material step on the existing master for one new master: join-material.sh bundled
 * with lib.sh, `create` with the token TTL on create, `revoke` on delete. The token and the
 * certificate key go in front of `script` on stdin (withSecretEnv); the control-plane tests
 * send the same text with their own values (secretEnvScript).
 */
export function joinMaterialStep(topology: Topology, master: NewMasterPlacement["master"]): { create: string; delete: string; script: string } {
    const rootShell = `${asRoot(topology.ssh.user)}bash -s --`;
    return {
        create: `${rootShell} create --ttl ${topology.kubeadm.joinTokenTtl} --description ${shellQuote(`ha-control-plane join of ${master.name}`)}`,
        delete: `${rootShell} revoke`,
        script: bundleScript({ libs: ["kubeadm/lib.sh"], main: "kubeadm/join-material.sh" }),
    };
}

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

const Logging = command.types.enums.remote.Logging;
/** For commands that carry a token or the certificate key: nothing logged, outputs secret. */
const SECRET_OUTPUTS: pulumi.CustomResourceOptions = { additionalSecretOutputs: ["stdout", "stderr"] };

/**
 * One new master into the control plane (seed plan 2.2 to 2.7, 3.2 to 3.7), after its VM and
 * strictly after the previous master's gate (stack.ts passes both in dependsOn). Steps, in order:
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
        const rootShell = `${asRoot(topology.ssh.user)}bash -s --`;
        // A fresh VM answers SSH only once cloud-init has set up the user: allow for the boot.
        const onNode = { ...sshConnection(master.ip, topology.ssh.user, args.sshPrivateKey), dialErrorLimit: 90 };
        const onExisting = sshConnection(existingMaster.ip, topology.ssh.user, args.sshPrivateKey);
        const peerUrl = etcdPeerUrl(master.ip);

        this.ready = new command.remote.Command(
            `${name}-ready`,
            {
                connection: onNode,
                create: `${rootShell} --kubernetes-version ${topology.kubernetesVersion} --min-containerd ${kubeadm.minContainerdVersion} --cloud-init-timeout ${kubeadm.cloudInitTimeoutSeconds}`,
                stdin: bundleScript({ libs: ["kubeadm/lib.sh"], main: "kubeadm/node-ready.sh" }),
                logging: Logging.StdoutAndStderr,
            },
            stepOptions(this, opts),
        );

        this.nodeReset = new command.remote.Command(
            `${name}-node-reset`,
            {
                connection: sshConnection(pve.address, topology.proxmox.sshUser, args.sshPrivateKey),
                create: `${asRoot(topology.proxmox.sshUser)}bash -s -- --check ${vmidArg(master.vmId)} --node-name ${master.name}`,
                delete: `${asRoot(topology.proxmox.sshUser)}bash -s -- ${vmidArg(master.vmId)} --node-name ${master.name} --timeout 300`,
                stdin: bundleScript({ embed: ["kubeadm/reset-node.sh"], main: "kubeadm/reset-node-via-agent.sh" }),
                logging: Logging.StdoutAndStderr,
            },
            stepOptions(this, opts, [this.ready]),
        );

        const memberArgs = `--node ${master.name} --peer-url ${peerUrl}`;
        this.membership = new command.remote.Command(
            `${name}-etcd-membership`,
            {
                connection: onExisting,
                create: `${rootShell} pre-join ${memberArgs}`,
                delete: `${rootShell} remove ${memberArgs} ${protectArg(existingMaster.name)} --drain-timeout ${kubeadm.drainTimeoutSeconds} --timeout ${kubeadm.gateTimeoutSeconds}`,
                stdin: bundleScript({ libs: ["kubeadm/lib.sh", "etcd/lib.sh"], main: "kubeadm/control-plane-member.sh" }),
                logging: Logging.StdoutAndStderr,
            },
            stepOptions(this, opts, [this.nodeReset]),
        );

        const childOpts = stepOptions(this, opts);
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
                stdin: withSecretEnv(secrets, material.script),
                logging: Logging.None,
            },
            // Replacing the material (`pulumi up --replace`, when it expired) revokes the old token
            // before creating it again: the other order would revoke the fresh one.
            stepOptions(this, opts, [this.membership], { ...SECRET_OUTPUTS, deleteBeforeReplace: true }),
        );

        this.join = new command.remote.Command(
            `${name}-join`,
            {
                connection: onNode,
                // The taint is explicit (kubeadm's default today): the script makes sure the node
                // carries it, and the control-plane-taint policy can see it.
                create: `${rootShell} --endpoint ${controlPlaneEndpoint(topology.cluster)} --advertise-address ${master.ip} --node-name ${master.name} ${taintArg(CONTROL_PLANE_TAINT)} --timeout ${kubeadm.joinTimeoutSeconds}`,
                stdin: withSecretEnv(
                    {
                        ...secrets,
                        JOIN_MATERIAL: this.material.stdout,
                        JOIN_MATERIAL_REFRESH: pulumi.interpolate`pulumi up --replace '${this.material.urn}'`,
                    },
                    bundleScript({ libs: ["kubeadm/lib.sh"], main: "kubeadm/join-control-plane.sh" }),
                ),
                logging: Logging.None,
            },
            stepOptions(this, opts, [this.material, this.ready, ...(args.beforeJoin?.(this.ready) ?? [])], SECRET_OUTPUTS),
        );

        const { members, later } = membersAfterJoin(topology, placement);
        this.gate = new command.remote.Command(
            `${name}-gate`,
            {
                connection: onExisting,
                create: [
                    `${rootShell} --node ${master.name} --members ${members.join(",")}`,
                    ...(later.length > 0 ? [`--later ${later.join(",")}`] : []),
                    `--timeout ${kubeadm.gateTimeoutSeconds}`,
                ].join(" "),
                stdin: bundleScript({ libs: ["kubeadm/lib.sh", "etcd/lib.sh"], main: "kubeadm/control-plane-gate.sh" }),
                logging: Logging.StdoutAndStderr,
            },
            stepOptions(this, opts, [this.join]),
        );

        // Which step is the join and which the gate, for the policies (phase-order, control-plane-taint).
        this.registerOutputs({
            gate: this.gate.stdout,
            facts: joinFacts({ node: master.name, member: placement.member, of: placement.of, join: this.join.urn, gate: this.gate.urn, membership: this.membership.urn }),
        });
    }
}
