/**
 * Phase 0: retrofit the existing master (controlPlaneEndpoint on the VIP, certificate SANs), after
 * its preflight and a Proxmox snapshot. Every later join waits for it.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { Topology } from "@ha-control-plane/topology";
import { Retrofit, RetrofitArgs, retrofitStepArgs } from "../kubeadm/retrofit";
import type { PhaseInput, PhaseResults } from "./types";

/** The retrofit's inputs from the topology. */
export function retrofitArgs(topology: Topology, sshPrivateKey: pulumi.Output<string>): RetrofitArgs {
    const { cluster, kubeadm, existingMaster: master } = topology;
    const node = topology.proxmox.nodes.find((n) => n.name === master.node);
    if (!node) throw new Error(`the existing master's Proxmox node ${master.node} is not in proxmox.nodes`);
    return {
        master: { name: master.name, address: master.ip },
        proxmoxNode: { name: node.name, address: node.address },
        sshUser: topology.ssh.user,
        proxmoxSshUser: topology.proxmox.sshUser,
        sshPrivateKey,
        preflight: {
            vip: cluster.vip,
            apiserverPort: cluster.apiserverPort,
            newMasterIps: topology.newMasters.map((m) => m.ip),
            snapshotDir: kubeadm.etcdSnapshotDir,
            snapshotMaxAgeHours: kubeadm.etcdSnapshotMaxAgeHours,
            takeSnapshot: kubeadm.takeEtcdSnapshot,
            snapshotTimeoutMinutes: kubeadm.etcdSnapshotTimeoutMinutes,
        },
        snapshot: {
            vmId: master.vmId,
            name: kubeadm.proxmoxSnapshotName,
            description: `before the HA retrofit of ${master.name} (stack ${topology.project}/${topology.stack})`,
            keep: kubeadm.keepProxmoxSnapshot,
        },
        apply: retrofitStepArgs(topology),
    };
}

export function retrofitPhase({ topology, secrets, phase }: PhaseInput): PhaseResults {
    const retrofit = new Retrofit("retrofit", retrofitArgs(topology, secrets.sshPrivateKey), phase.childOptions());
    return { retrofit };
}
