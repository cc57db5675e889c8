/** Phase 4.5: the etcd backup and defrag CronJobs, schedulable on any control-plane node. */
import type { Topology } from "@ha-control-plane/topology";
import { EtcdMaintenance, EtcdMaintenanceArgs } from "../clusterOps/etcdMaintenance";
import type { PhaseInput, PhaseResults } from "./types";

/** The component's inputs from the topology (also what the engine tests register). */
export function etcdMaintenanceArgs(topology: Topology): EtcdMaintenanceArgs {
    return { stack: topology.stack, maintenance: topology.clusterOps.etcdMaintenance };
}

export function etcdMaintenancePhase({ topology, phase, kubernetesProvider }: PhaseInput): PhaseResults {
    new EtcdMaintenance("etcd-maintenance", etcdMaintenanceArgs(topology), { ...phase.childOptions(), provider: kubernetesProvider() });
    return {};
}
