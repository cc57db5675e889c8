import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { apiserverCertSans, COMPONENT_TYPES, controlPlaneEndpoint, endpointFacts, Topology } from "@ha-control-plane/topology";
import { noRerunOnUpdate } from "../commandLifecycle";
import { RemoteStep, shipStep, StepHost, StepSpec } from "../remoteStep";
import type { ShippedCommand } from "../shipped";
import { childOf } from "../childOptions";

export type PreflightArgs = {
    vip: string;
    apiserverPort: number;
    newMasterIps: readonly string[];
    snapshotDir: string;
    snapshotMaxAgeHours: number;
    takeSnapshot: boolean;
    snapshotTimeoutMinutes: number;
};

/** The phase 0 preflight on the existing master (see scripts/kubeadm/preflight.sh). */
export function preflightStep(a: PreflightArgs): StepSpec {
    return {
        script: "kubeadm/preflight.sh",
        runAs: "root",
        args: [
            "--vip", a.vip, "--apiserver-port", String(a.apiserverPort),
            ...a.newMasterIps.flatMap((ip) => ["--new-master-ip", ip]),
            "--snapshot-dir", a.snapshotDir, "--snapshot-max-age-hours", String(a.snapshotMaxAgeHours),
            ...(a.takeSnapshot ? ["--take-snapshot", "--snapshot-timeout-minutes", String(a.snapshotTimeoutMinutes)] : []),
        ],
    };
}

/** What the preflight ships for an SSH user (the script tests run exactly this). */
export function preflightCommand(a: PreflightArgs & { sshUser: string }): ShippedCommand {
    return shipStep(a.sshUser, preflightStep(a));
}

/**
 * Phase 0's apply step for a topology: what the component registers, and what the control-plane
 * tests run against a real apiserver (tests/controlPlane/retrofit.cp.ts).
 */
export function retrofitApplyStep(topology: Topology): ShippedCommand & { readonly delete: string } {
    const step = shipStep(topology.ssh.user, retrofitStep(retrofitStepArgs(topology)));
    return { ...step, delete: step.delete ?? "" };
}

/** The apply's arguments for a topology: the existing master, the VIP endpoint and the SANs. */
export function retrofitStepArgs(topology: Topology): RetrofitStepArgs {
    const { cluster, kubeadm, existingMaster: master } = topology;
    return {
        node: master.name,
        advertiseAddress: master.ip,
        backupDir: kubeadm.backupDir,
        readyzTimeoutSeconds: kubeadm.readyzTimeoutSeconds,
        endpoint: controlPlaneEndpoint(cluster),
        sans: apiserverCertSans(cluster),
        verifyNamespaces: kubeadm.verifyNamespaces,
    };
}

export type RetrofitStepArgs = {
    node: string;
    advertiseAddress: string;
    backupDir: string;
    readyzTimeoutSeconds: number;
    endpoint: string;
    sans: readonly string[];
    verifyNamespaces: readonly string[];
};

/** The retrofit itself on the existing master: apply on create, restore on delete. */
export function retrofitStep(a: RetrofitStepArgs): StepSpec {
    const identity = ["--node-name", a.node, "--advertise-address", a.advertiseAddress, "--backup-dir", a.backupDir, "--readyz-timeout", String(a.readyzTimeoutSeconds)];
    return {
        script: "kubeadm/retrofit.sh",
        runAs: "root",
        args: ["apply", ...identity, "--endpoint", a.endpoint, ...a.sans.flatMap((san) => ["--san", san]), ...a.verifyNamespaces.flatMap((ns) => ["--verify-namespace", ns])],
        deleteArgs: ["restore", ...identity],
    };
}

/** What the retrofit ships for an SSH user (the script tests run exactly this). */
export function retrofitCommand(a: RetrofitStepArgs & { sshUser: string }): ShippedCommand {
    return shipStep(a.sshUser, retrofitStep(a));
}

export type ProxmoxSnapshotArgs = { vmId: number; name: string; description: string; keep: boolean };

/** The Proxmox snapshot of the existing master's VM, on its Proxmox node (see scripts/kubeadm/proxmox-snapshot.sh): taken on create, kept or deleted on delete. */
export function proxmoxSnapshotStep(a: ProxmoxSnapshotArgs): StepSpec & { readonly deleteArgs: readonly string[] } {
    const snapshotArgs = ["--vmid", String(a.vmId), "--name", a.name];
    return {
        script: "kubeadm/proxmox-snapshot.sh",
        runAs: "root",
        args: ["create", ...snapshotArgs, "--description", a.description],
        deleteArgs: ["delete", ...snapshotArgs, ...(a.keep ? ["--keep"] : [])],
    };
}

/** What the snapshot step ships for the Proxmox SSH user (the script tests run exactly this). */
export function proxmoxSnapshotCommand(a: ProxmoxSnapshotArgs & { pveSshUser: string }): ShippedCommand & { readonly delete: string } {
    const step = shipStep(a.pveSshUser, proxmoxSnapshotStep(a));
    return { ...step, delete: step.delete ?? "" };
}

export interface RetrofitArgs {
    /** The existing master: where the preflight and the apply run (its name and SSH address). */
    readonly master: StepHost;
    /** The master's Proxmox node: where its VM's snapshot is taken. */
    readonly proxmoxNode: StepHost;
    /** The SSH user on the masters (sudo for root unless it is root). */
    readonly sshUser: string;
    /** The SSH user on the Proxmox nodes. */
    readonly proxmoxSshUser: string;
    /** One key for both (a Pulumi secret, never shown). */
    readonly sshPrivateKey: pulumi.Output<string>;
    /** The preflight's figures: the VIP and port, the new masters' IPs, the etcd snapshot settings. */
    readonly preflight: PreflightArgs;
    /** The Proxmox snapshot of the master's VM (its VMID, name, description, kept on destroy or not). */
    readonly snapshot: ProxmoxSnapshotArgs;
    /** The apply: the master's identity, the endpoint on the VIP, the certificate SANs, the checks. */
    readonly apply: RetrofitStepArgs;
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
        const { master, proxmoxNode, preflight, snapshot, apply } = args;
        super(
            COMPONENT_TYPES.retrofit,
            name,
            {
                master: master.name,
                address: master.address,
                proxmoxNode: `${proxmoxNode.name} ${proxmoxNode.address}`,
                vmId: snapshot.vmId,
                controlPlaneEndpoint: apply.endpoint,
                certSans: [...apply.sans],
                newMasterIps: [...preflight.newMasterIps],
                snapshot: snapshot.name,
            },
            opts,
        );
        const onMaster = { host: master, user: args.sshUser, privateKey: args.sshPrivateKey, formerParent: this };

        // A check (it passes again after later phases): an update re-runs it (the default).
        this.preflight = new RemoteStep(`${name}-preflight`, { ...onMaster, ...preflightStep(preflight) }, childOf(this, opts)).command;

        this.proxmoxSnapshot = new RemoteStep(
            `${name}-proxmox-snapshot`,
            {
                host: proxmoxNode,
                user: args.proxmoxSshUser,
                privateKey: args.sshPrivateKey,
                formerParent: this,
                ...proxmoxSnapshotStep(snapshot),
                // Taken once, before the retrofit: a later snapshot is not "before", so neither an
                // update nor a replace takes another (no triggers).
                update: noRerunOnUpdate("proxmox-snapshot"),
            },
            childOf(this, opts, [this.preflight]),
        ).command;

        this.apply = new RemoteStep(
            `${name}-apply`,
            {
                ...onMaster,
                ...retrofitStep(apply),
                // Done once; a new endpoint or SAN list is a replace (restore, then apply again,
                // delete first: the other order would restore over the new apply).
                update: noRerunOnUpdate("retrofit apply"),
                triggers: [apply.endpoint, ...apply.sans],
                commandOptions: { deleteBeforeReplace: true },
            },
            childOf(this, opts, [this.proxmoxSnapshot]),
        ).command;

        // The endpoint phase 0 sets and the master it changes, for the policies (vip-conflicts).
        this.registerOutputs({
            result: this.apply.stdout,
            facts: endpointFacts({ vip: preflight.vip, port: preflight.apiserverPort, master: master.name, masterIp: master.address }),
        });
    }
}
