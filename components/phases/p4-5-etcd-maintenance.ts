/** Phase 4.5: the etcd backup and defrag CronJobs, schedulable on any control-plane node. */
import { EtcdMaintenance } from "../clusterOps/etcdMaintenance";
import type { PhaseInput, PhaseResults } from "./types";

export function etcdMaintenancePhase({ topology, phase }: PhaseInput): PhaseResults {
    new EtcdMaintenance("etcd-maintenance", { topology }, phase.childOptions());
    return {};
}
