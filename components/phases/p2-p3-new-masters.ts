/**
 * Phases 2 and 3, one builder: for each new master of the phase, one at a time, the steps that
 * bring it in (VM, join with its gate, pool entry). Phase 2 first records where the control
 * plane runs (facts for the spread policies) and checks every Proxmox node the new masters land
 * on (all of them, so a plan that cannot finish does not start). Each master waits for the
 * previous master's gate, whichever phase brought it.
 */
import type * as pulumi from "@pulumi/pulumi";
import { capacityPlan, NewMasterPlacement, nodeFacts, plannedNewMasters, Topology } from "@ha-control-plane/topology";
import { CapacityGate } from "../capacityGate";
import { ControlPlanePlacement } from "../controlPlanePlacement";
import { ControlPlaneJoin, controlPlaneJoinArgs } from "../kubeadm/controlPlaneJoin";
import { ApiserverPoolMember, poolMemberInputs } from "../loadBalancer/poolMember";
import { MasterVm, MasterVmArgs } from "../masterVm";
import type { NewMasterResult, PhaseInput, PhaseResults } from "./types";

/** A new master's VM inputs from the topology. */
function masterVmArgs(topology: Topology, placement: NewMasterPlacement): MasterVmArgs {
    const { proxmox, cluster } = topology;
    return {
        placement,
        proxmox: { templateVmId: proxmox.templateVmId, bridge: proxmox.bridge, vlanId: proxmox.vlanId, datastore: proxmox.datastore, snippetsDatastore: proxmox.snippetsDatastore },
        network: { domain: cluster.domain, prefixLength: cluster.prefixLength, gateway: cluster.gateway, dnsServers: cluster.dnsServers },
        login: { user: topology.ssh.user, publicKey: topology.ssh.publicKey },
        kubernetesVersion: topology.kubernetesVersion,
        project: topology.project,
        stack: topology.stack,
    };
}

/** Phase 2 only: the placement facts and one capacity gate per Proxmox node that gets a master. */
function placementAndCapacity({ topology, secrets, phase }: PhaseInput): CapacityGate[] {
    const { nodes } = topology.proxmox;
    const { existingMaster } = topology;
    new ControlPlanePlacement(
        "control-plane-placement",
        { nodes, existingMaster: { name: existingMaster.name, node: existingMaster.node, memoryGiB: existingMaster.memoryGiB } },
        phase.childOptions(),
    );
    const allNew = topology.newMasters;
    return capacityPlan(topology, allNew)
        .filter((row) => row.planned.length > 0)
        .map((row) => {
            const node = topology.proxmox.nodes.find((n) => n.name === row.node)!;
            return new CapacityGate(
                `capacity-${node.name}`,
                {
                    node: { name: node.name, address: node.address },
                    facts: nodeFacts(node),
                    planned: allNew.filter((m) => m.node === node.name).map((m) => ({ name: m.name, memoryGiB: m.memoryGiB, vmId: m.vmId })),
                    sshUser: topology.proxmox.sshUser,
                    sshPrivateKey: secrets.sshPrivateKey,
                },
                phase.childOptions(),
            );
        });
}

export function newMastersPhase(input: PhaseInput): PhaseResults {
    const { topology, secrets, phase, earlier } = input;
    const gates = phase.id === "2" ? placementAndCapacity(input) : [];
    const beforeJoin = earlier.beforeJoin ?? [];
    const newMasters: NewMasterResult[] = [];
    let previous: pulumi.Resource | undefined = earlier.newMasters?.at(-1)?.gate;
    for (const placement of plannedNewMasters(topology).filter((p) => p.phase === phase.id)) {
        const { master } = placement;
        const vm = new MasterVm(master.name, masterVmArgs(topology, placement), {
            ...phase.childOptions([...gates, ...(previous ? [previous] : [])]),
            provider: input.proxmoxProvider(),
        });
        // The join waits for the retrofit, its VM and the previous master's gate (the phase
        // barrier already covers the LB phase); its gate is what the next master waits for.
        const join = new ControlPlaneJoin(
            master.name,
            controlPlaneJoinArgs(topology, placement, secrets.sshPrivateKey, (ready) => beforeJoin.flatMap((step) => step(master, phase, [vm, ready]))),
            phase.childOptions([...(earlier.retrofit ? [earlier.retrofit] : []), vm, ...(previous ? [previous] : [])]),
        );
        // Into the LB pool only once the gate passed: in the graph the entry depends on the gate,
        // so a rollback takes the master out of the pool before the join's delete removes its
        // etcd member.
        new ApiserverPoolMember(`${master.name}-lb`, { ...poolMemberInputs(topology, master), sshPrivateKey: secrets.sshPrivateKey }, phase.childOptions([join.gate]));
        newMasters.push({ name: master.name, vm, gate: join.gate });
        previous = join.gate;
    }
    return { newMasters };
}
