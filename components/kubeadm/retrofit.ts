import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { apiserverCertSans, COMPONENT_TYPES, controlPlaneEndpoint, endpointFacts, Topology, vmidArg } from "../../topology";
import { noRerunOnUpdate, rerunOnUpdate } from "../commandLifecycle";
import { scriptText } from "../scriptFile";
import type { ShippedCommand } from "../shipped";
import { sshConnection } from "../sshConnection";
import { bundleScript, shellQuote } from "./bundle";
import { childOf } from "../childOptions";
import { asRoot } from "./options";

/** The phase 0 preflight on the existing master (see scripts/kubeadm/preflight.sh). */
export function preflightCommand(a: {
    sshUser: string;
    vip: string;
    apiserverPort: number;
    newMasterIps: readonly string[];
    snapshotDir: string;
    snapshotMaxAgeHours: number;
    takeSnapshot: boolean;
    snapshotTimeoutMinutes: number;
}): ShippedCommand {
    return {
        create: [
            `${asRoot(a.sshUser)}bash -s --`,
            `--vip ${a.vip} --apiserver-port ${a.apiserverPort}`,
            ...a.newMasterIps.map((ip) => `--new-master-ip ${ip}`),
            `--snapshot-dir ${a.snapshotDir} --snapshot-max-age-hours ${a.snapshotMaxAgeHours}`,
            ...(a.takeSnapshot ? [`--take-snapshot --snapshot-timeout-minutes ${a.snapshotTimeoutMinutes}`] : []),
        ].join(" "),
        stdin: bundleScript({ libs: ["kubeadm/lib.sh", "etcd/lib.sh"], main: "kubeadm/preflight.sh" }),
    };
}

/**
 * Phase 0's apply step for a topology: what the component registers, and what the control-plane
 * tests run against a real apiserver (tests/controlPlane/retrofit.cp.ts).
 */
export function retrofitApplyStep(topology: Topology): ShippedCommand & { readonly delete: string } {
    const { cluster, kubeadm, existingMaster: master } = topology;
    const step = retrofitCommand({
        sshUser: topology.ssh.user,
        node: master.name,
        advertiseAddress: master.ip,
        backupDir: kubeadm.backupDir,
        readyzTimeoutSeconds: kubeadm.readyzTimeoutSeconds,
        endpoint: controlPlaneEndpoint(cluster),
        sans: apiserverCertSans(cluster),
        verifyNamespaces: kubeadm.verifyNamespaces,
    });
    return { ...step, delete: step.delete ?? "" };
}

/** The retrofit itself on the existing master: apply on create, restore on delete. */
export function retrofitCommand(a: {
    sshUser: string;
    node: string;
    advertiseAddress: string;
    backupDir: string;
    readyzTimeoutSeconds: number;
    endpoint: string;
    sans: readonly string[];
    verifyNamespaces: readonly string[];
}): ShippedCommand {
    const shell = `${asRoot(a.sshUser)}bash -s --`;
    const identity = `--node-name ${a.node} --advertise-address ${a.advertiseAddress} --backup-dir ${a.backupDir} --readyz-timeout ${a.readyzTimeoutSeconds}`;
    return {
        create: [
            `${shell} apply ${identity}`,
            `--endpoint ${a.endpoint}`,
            ...a.sans.map((san) => `--san ${san}`),
            ...a.verifyNamespaces.map((ns) => `--verify-namespace ${ns}`),
        ].join(" "),
        delete: `${shell} restore ${identity}`,
        stdin: bundleScript({ libs: ["kubeadm/lib.sh"], embed: ["kubeadm/patch-cluster-config.py"], main: "kubeadm/retrofit.sh" }),
    };
}

/** The Proxmox snapshot of the existing master's VM, on its Proxmox node (see scripts/kubeadm/proxmox-snapshot.sh). */
export function proxmoxSnapshotCommand(a: { pveSshUser: string; vmId: number; name: string; description: string; keep: boolean }): ShippedCommand & { readonly delete: string } {
    const shell = `${asRoot(a.pveSshUser)}bash -s --`;
    const snapshotArgs = `${vmidArg(a.vmId)} --name ${a.name}`;
    return {
        create: `${shell} create ${snapshotArgs} --description ${shellQuote(a.description)}`,
        delete: `${shell} delete ${snapshotArgs}${a.keep ? " --keep" : ""}`,
        stdin: scriptText("kubeadm/proxmox-snapshot.sh"),
    };
}

export interface RetrofitArgs {
    readonly topology: Topology;
    readonly sshPrivateKey: pulumi.Output<string>;
}

/**
 * Phase 0 on the existing master (seed plan 0.1 to 0.6), three steps in order:
 *   preflight         nodes Ready, a recent etcd snapshot, the VIP and new master IPs free;
 *   proxmox-snapshot  `qm snapshot` of the master's VM on its Proxmox node; destroying keeps it
 *                     unless kubeadm.keepProxmoxSnapshot is false;
 *   apply             controlPlaneEndpoint + certSANs in kubeadm-config (through kubeadm), the
 *                     apiserver certificate regenerated and verified, the apiserver restarted,
 *                     /readyz waited for with an automatic restore; destroying restores the
 *                     original certificate, endpoint and SANs.
 * Joins depend on this component (see components/phases/p2-p3-new-masters.ts), so no master
 * joins an endpoint that is not there.
 */
export class Retrofit extends pulumi.ComponentResource {
    readonly preflight: command.remote.Command;
    readonly proxmoxSnapshot: command.remote.Command;
    readonly apply: command.remote.Command;

    constructor(name: string, args: RetrofitArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.retrofit, name, {}, opts);
        const { topology } = args;
        const { cluster, kubeadm, existingMaster: master } = topology;
        const node = topology.proxmox.nodes.find((n) => n.name === master.node);
        if (!node) throw new Error(`the existing master's Proxmox node ${master.node} is not in proxmox.nodes`);
        const onMaster = sshConnection(master.ip, topology.ssh.user, args.sshPrivateKey);

        this.preflight = new command.remote.Command(
            `${name}-preflight`,
            {
                connection: onMaster,
                // A check (it passes again after later phases): an update re-runs it.
                ...rerunOnUpdate(preflightCommand({
                    sshUser: topology.ssh.user,
                    vip: cluster.vip,
                    apiserverPort: cluster.apiserverPort,
                    newMasterIps: topology.newMasters.map((m) => m.ip),
                    snapshotDir: kubeadm.etcdSnapshotDir,
                    snapshotMaxAgeHours: kubeadm.etcdSnapshotMaxAgeHours,
                    takeSnapshot: kubeadm.takeEtcdSnapshot,
                    snapshotTimeoutMinutes: kubeadm.etcdSnapshotTimeoutMinutes,
                })),
                logging: command.types.enums.remote.Logging.StdoutAndStderr,
            },
            childOf(this, opts),
        );

        this.proxmoxSnapshot = new command.remote.Command(
            `${name}-proxmox-snapshot`,
            {
                connection: sshConnection(node.address, topology.proxmox.sshUser, args.sshPrivateKey),
                ...proxmoxSnapshotCommand({
                    pveSshUser: topology.proxmox.sshUser,
                    vmId: master.vmId,
                    name: kubeadm.proxmoxSnapshotName,
                    description: `before the HA retrofit of ${master.name} (stack ${topology.project}/${topology.stack})`,
                    keep: kubeadm.keepProxmoxSnapshot,
                }),
                // Taken once, before the retrofit: a later snapshot is not "before", so neither an
                // update nor a replace takes another (no triggers).
                ...noRerunOnUpdate("proxmox-snapshot"),
                logging: command.types.enums.remote.Logging.StdoutAndStderr,
            },
            childOf(this, opts, [this.preflight]),
        );

        this.apply = new command.remote.Command(
            `${name}-apply`,
            {
                connection: onMaster,
                ...retrofitApplyStep(topology),
                // Done once; a new endpoint or SAN list is a replace (restore, then apply again,
                // delete first: the other order would restore over the new apply).
                ...noRerunOnUpdate("retrofit apply"),
                triggers: [controlPlaneEndpoint(cluster), ...apiserverCertSans(cluster)],
                logging: command.types.enums.remote.Logging.StdoutAndStderr,
            },
            childOf(this, opts, [this.proxmoxSnapshot], { deleteBeforeReplace: true }),
        );

        // The endpoint phase 0 sets and the master it changes, for the policies (vip-conflicts).
        this.registerOutputs({
            result: this.apply.stdout,
            facts: endpointFacts({ vip: cluster.vip, port: cluster.apiserverPort, master: master.name, masterIp: master.ip }),
        });
    }
}
