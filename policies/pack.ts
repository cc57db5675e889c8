/**
 * Every policy of the pack, as plain objects: the CLI's pack (index.ts), the offline plan and
 * the specs all use this list, so there is one definition of each rule. Grouped by area, one
 * module each; the rules themselves live in the pure layer (../topology).
 */
import { Policies } from "@pulumi/policy";
import { etcdJobsNotPinned, rebootGateQuorum } from "./clusterOps";
import { etcdQuorum, etcdQuorumTransition } from "./etcdQuorum";
import { controlPlaneTaint, mastersDoNotJoinAsWorkers } from "./kubeadm";
import { apiserverHealthCheck } from "./loadBalancer";
import { vipConflictsPolicy } from "./network";
import { phaseOrder } from "./phaseOrder";
import { originalMasterProtected } from "./protection";
import { ramHeadroom } from "./ramHeadroom";
import { secretsStaySecret } from "./secrets";
import { controlPlaneSizing } from "./sizing";
import { controlPlaneSpread, controlPlaneSpreadOneNode, controlPlaneSpreadTwoNodes } from "./spread";

export const PACK_NAME = "ha-control-plane";

export const policies: Policies = [
    // Capacity and quorum (the foundation).
    ramHeadroom,
    etcdQuorum,
    etcdQuorumTransition,
    controlPlaneSizing,
    // What losing one Proxmox host costs (one entry per case: each has its own level).
    controlPlaneSpread,
    controlPlaneSpreadTwoNodes,
    controlPlaneSpreadOneNode,
    // Order of the phases.
    phaseOrder,
    // Load balancer and network.
    apiserverHealthCheck,
    vipConflictsPolicy,
    // kubeadm joins.
    mastersDoNotJoinAsWorkers,
    controlPlaneTaint,
    // Cluster operations.
    etcdJobsNotPinned,
    rebootGateQuorum,
    // Secrets and the existing master.
    secretsStaySecret,
    originalMasterProtected,
];
