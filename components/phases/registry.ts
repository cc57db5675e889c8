/**
 * The phases, once: for each phase id of the table (topology/phases.ts), the builder that
 * registers it, the component files it uses, the scripts its steps ship and the tests that cover
 * them. components/stack.ts runs the builders in this order; tools/phaseTable.ts renders the
 * README's phase table from it; tests/layout.test.ts fails when a file named here is missing, a
 * script is named by no phase, or the README's table is not the generated one.
 *
 * Paths are from the project root; scripts are under scripts/.
 */
import type { PhaseId } from "@ha-control-plane/topology";
import { retrofitPhase } from "./p0-retrofit";
import { loadBalancerPhase } from "./p1-load-balancer";
import { flagParityPhase } from "./p1-5-flag-parity";
import { newMastersPhase } from "./p2-p3-new-masters";
import { cutoverPhase } from "./p4-cutover";
import { etcdMaintenancePhase } from "./p4-5-etcd-maintenance";
import { kuredGatePhase } from "./p5-kured-gate";
import { verificationPhase } from "./p6-verification";
import { upgradeChainPhase } from "./p7-upgrade-chain";
import type { PhaseBuilder } from "./types";

export interface PhaseEntry {
    readonly id: PhaseId;
    readonly build: PhaseBuilder;
    /** The file `build` lives in. */
    readonly builder: string;
    /** The component files of the phase's resources (shared helpers are in SHARED.components). */
    readonly components: readonly string[];
    /** What the phase's steps run on hosts or mount in the cluster (shared libraries are in SHARED.scripts). */
    readonly scripts: readonly string[];
    /** Scripts of the phase an operator runs by hand (the runbooks name them); no step ships them. */
    readonly byHand?: readonly string[];
    /** The tests of the builder, the components and the scripts. */
    readonly tests: readonly string[];
}

const NEW_MASTERS: Omit<PhaseEntry, "id"> = {
    build: newMastersPhase,
    builder: "components/phases/p2-p3-new-masters.ts",
    components: [
        "components/controlPlanePlacement.ts",
        "components/capacityGate.ts",
        "components/masterVm.ts",
        "components/shipping/userData.ts",
        "components/kubeadm/controlPlaneJoin.ts",
        "components/loadBalancer/poolMember.ts",
        // Phase 1.5's beforeJoin step, registered with each new master.
        "components/clusterOps/auditPolicy.ts",
    ],
    scripts: [
        "proxmox/capacity-check.sh",
        "cloud-init/k8s-node-prepare.sh",
        "kubeadm/node-ready.sh",
        "kubeadm/reset-node-via-agent.sh",
        "kubeadm/reset-node.sh",
        "kubeadm/control-plane-member.sh",
        "kubeadm/join-material.sh",
        "kubeadm/join-control-plane.sh",
        "kubeadm/control-plane-gate.sh",
        "pfsense/haproxy-reconcile.php",
        "haproxy/apiserver-lb.sh",
        "cluster/audit-policy.yaml",
        "cluster/audit-policy-file.sh",
    ],
    byHand: ["etcd/quorum-guard.sh", "etcd/remove-member.sh"],
    tests: [
        "tests/program.test.ts",
        "tests/kubeadm/program.test.ts",
        "tests/kubeadm/nodeReady.test.ts",
        "tests/kubeadm/resetNodeViaAgent.test.ts",
        "tests/kubeadm/resetNode.test.ts",
        "tests/kubeadm/controlPlaneMember.test.ts",
        "tests/kubeadm/joinMaterial.test.ts",
        "tests/kubeadm/joinControlPlane.test.ts",
        "tests/kubeadm/controlPlaneGate.test.ts",
        // The scripts an operator runs by hand (byHand above).
        "tests/etcd/quorumGuard.test.ts",
        "tests/etcd/removeMember.test.ts",
        "tests/scripts/capacityCheck.test.ts",
        "tests/topology/capacity.test.ts",
        "tests/topology/cloudinit.test.ts",
        "tests/loadBalancer/program.test.ts",
        "tests/loadBalancer/haproxyReconcile.test.ts",
        "tests/controlPlane/joinAndCutover.cp.ts",
        // A restored master's peers are reset and rejoined with this phase's scripts.
        "tests/controlPlane/restore.cp.ts",
        "tests/policies/ramHeadroom.spec.test.ts",
        "tests/policies/sizing.spec.test.ts",
        "tests/policies/spread.spec.test.ts",
        "tests/policies/etcdQuorum.spec.test.ts",
        "tests/policies/kubeadm.spec.test.ts",
        "tests/policies/phaseOrder.spec.test.ts",
    ],
};

export const PHASE_REGISTRY: readonly PhaseEntry[] = [
    {
        id: "0",
        build: retrofitPhase,
        builder: "components/phases/p0-retrofit.ts",
        components: ["components/kubeadm/retrofit.ts"],
        scripts: ["kubeadm/preflight.sh", "kubeadm/proxmox-snapshot.sh", "kubeadm/retrofit.sh", "kubeadm/patch-cluster-config.py"],
        tests: [
            "tests/kubeadm/program.test.ts",
            "tests/kubeadm/preflight.test.ts",
            "tests/kubeadm/preflightSnapshot.test.ts",
            "tests/kubeadm/proxmoxSnapshot.test.ts",
            "tests/kubeadm/retrofit.test.ts",
            "tests/kubeadm/patchClusterConfig.test.ts",
            "tests/controlPlane/retrofit.cp.ts",
        ],
    },
    {
        id: "1",
        build: loadBalancerPhase,
        builder: "components/phases/p1-load-balancer.ts",
        components: ["components/loadBalancer/apiserverLoadBalancer.ts", "components/loadBalancer/dnsRecord.ts", "components/ipam/ipamRegistration.ts"],
        scripts: ["pfsense/haproxy-reconcile.php", "haproxy/apiserver-lb.sh", "dns/vip-record.sh", "ipam/phpipam-address.sh"],
        tests: [
            "tests/loadBalancer/program.test.ts",
            "tests/loadBalancer/model.test.ts",
            "tests/loadBalancer/haproxyReconcile.test.ts",
            "tests/loadBalancer/haproxyReconcileAlias.test.ts",
            "tests/loadBalancer/failover.test.ts",
            "tests/loadBalancer/scripts.test.ts",
            "tests/dns/vipRecord.test.ts",
            "tests/ipam/phpipamAddress.test.ts",
            "tests/policies/loadBalancer.spec.test.ts",
            "tests/policies/network.spec.test.ts",
        ],
    },
    {
        id: "1.5",
        build: flagParityPhase,
        builder: "components/phases/p1-5-flag-parity.ts",
        components: ["components/clusterOps/cutover.ts", "components/clusterOps/auditPolicy.ts", "components/clusterOps/flagParity.ts"],
        scripts: ["cluster/kubeconfig-server.sh", "cluster/audit-policy.yaml", "cluster/audit-policy-file.sh", "cluster/control-plane-flags.sh", "kubeadm/patch-cluster-config.py"],
        tests: [
            "tests/clusterOps/program.test.ts",
            "tests/clusterOps/config.test.ts",
            "tests/clusterOps/kubeconfigServer.test.ts",
            "tests/clusterOps/controlPlaneFlags.test.ts",
            "tests/kubeadm/patchClusterConfig.test.ts",
            "tests/controlPlane/joinAndCutover.cp.ts",
            "tests/controlPlane/flagParity.cp.ts",
        ],
    },
    { id: "2", ...NEW_MASTERS },
    { id: "3", ...NEW_MASTERS },
    {
        id: "4",
        build: cutoverPhase,
        builder: "components/phases/p4-cutover.ts",
        components: ["components/clusterOps/cutover.ts"],
        scripts: ["cluster/kubeconfig-server.sh", "cluster/node-ready-wait.sh"],
        tests: ["tests/clusterOps/program.test.ts", "tests/clusterOps/kubeconfigServer.test.ts", "tests/clusterOps/nodeReadyWait.test.ts", "tests/controlPlane/joinAndCutover.cp.ts"],
    },
    {
        id: "4.5",
        build: etcdMaintenancePhase,
        builder: "components/phases/p4-5-etcd-maintenance.ts",
        components: ["components/clusterOps/etcdMaintenance.ts"],
        scripts: ["cluster/etcd-backup-store.sh"],
        // The way back from the backups this phase stores (docs/runbook-restore-etcd.md).
        byHand: ["etcd/restore-control-plane.sh"],
        tests: [
            "tests/clusterOps/program.test.ts",
            "tests/clusterOps/manifests.test.ts",
            "tests/clusterOps/etcdBackupStore.test.ts",
            "tests/clusterOps/etcdRealSizes.test.ts",
            "tests/policies/clusterOps.spec.test.ts",
            "tests/controlPlane/engine.cp.ts",
            "tests/controlPlane/restore.cp.ts",
        ],
    },
    {
        id: "5",
        build: kuredGatePhase,
        builder: "components/phases/p5-kured-gate.ts",
        components: ["components/clusterOps/kuredGate.ts", "components/clusterOps/gateAccess.ts"],
        scripts: ["cluster/kured-sentinel-gate.sh", "cluster/quorum-gate.sh"],
        tests: [
            "tests/clusterOps/manifests.test.ts",
            "tests/clusterOps/kuredSentinelGate.test.ts",
            "tests/clusterOps/quorumGate.test.ts",
            "tests/policies/clusterOps.spec.test.ts",
            "tests/controlPlane/engine.cp.ts",
        ],
    },
    {
        id: "6",
        build: verificationPhase,
        builder: "components/phases/p6-verification.ts",
        components: ["components/clusterOps/verification.ts"],
        scripts: ["cluster/verify-etcd.sh", "cluster/lb-pool-check.php", "cluster/control-plane-flags.sh", "kubeadm/patch-cluster-config.py", "cluster/kubeconfig-server.sh"],
        tests: [
            "tests/clusterOps/program.test.ts",
            "tests/clusterOps/verifyEtcd.test.ts",
            "tests/clusterOps/lbPoolCheck.test.ts",
            "tests/clusterOps/controlPlaneFlags.test.ts",
            "tests/clusterOps/kubeconfigServer.test.ts",
            "tests/controlPlane/flagParity.cp.ts",
        ],
    },
    {
        id: "7",
        build: upgradeChainPhase,
        builder: "components/phases/p7-upgrade-chain.ts",
        components: ["components/clusterOps/upgradeChain.ts", "components/clusterOps/gateAccess.ts"],
        scripts: ["cluster/upgrade-chain.sh", "cluster/node-upgrade.sh", "cluster/quorum-gate.sh"],
        tests: ["tests/clusterOps/manifests.test.ts", "tests/clusterOps/upgradeChain.test.ts", "tests/clusterOps/quorumGate.test.ts", "tests/controlPlane/engine.cp.ts"],
    },
];

/** What several phases use: the orchestrator and the helpers under the components, the libraries under the scripts. */
export const SHARED = {
    components: [
        "components/stack.ts",
        "components/stackConfig.ts",
        "components/phase.ts",
        "components/phases/registry.ts",
        "components/phases/types.ts",
        "components/childOptions.ts",
        "components/commandLifecycle.ts",
        "components/scriptFile.ts",
        "components/shipped.ts",
        "components/remoteStep.ts",
        "components/localStep.ts",
        "components/scriptManifest.ts",
        "components/sshConnection.ts",
        "components/kubeadm/bundle.ts",
        "components/kubeadm/options.ts",
        "components/kubeadm/index.ts",
        "components/loadBalancer/shared.ts",
        "components/clusterOps/remote.ts",
        "components/clusterOps/kubernetes.ts",
        "components/projectFiles.ts",
        "components/shipping/payloads.ts",
        "components/shipping/phpBundle.ts",
    ],
    /** Sourced by (or bundled with) the scripts of several phases. */
    scripts: ["kubeadm/lib.sh", "etcd/lib.sh", "haproxy/stats.php"],
    tests: [
        "tests/plan/behaviourPin.test.ts",
        "tests/layout.test.ts",
        "tests/policies/secrets.spec.test.ts",
        "tests/policies/protection.spec.test.ts",
        "tests/commandLifecycle.test.ts",
        "tests/scripts/shellcheck.test.ts",
        "tests/scripts/shippedPath.test.ts",
        // Every runbook's calls against the usage of the scripts they name.
        "tests/docs/runbooks.test.ts",
        "tests/architecture/sayOnce.test.ts",
        "tests/architecture/componentBoundaries.test.ts",
    ],
} as const;

export function phaseEntry(id: PhaseId): PhaseEntry {
    const entry = PHASE_REGISTRY.find((p) => p.id === id);
    if (!entry) throw new Error(`phase ${id} is not in components/phases/registry.ts`);
    return entry;
}
