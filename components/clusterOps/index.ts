/**
 * The cluster-wide phases, one builder per phase for stack.ts's PHASE_CONTENT:
 *   1.5  flagParityPhase      auditPolicy.ts, flagParity.ts; cluster-info to the VIP (cutover.ts)
 *   4    cutoverPhase         cutover.ts
 *   4.5  etcdMaintenancePhase etcdMaintenance.ts
 *   5    kuredGatePhase       kuredGate.ts (+ gateAccess.ts)
 *   6    verificationPhase    verification.ts
 *   7    upgradeChainPhase    upgradeChain.ts (+ gateAccess.ts)
 */
import * as pulumi from "@pulumi/pulumi";
import { directServerUrl, externalConsumersOutput, kubeletCutoverNodes, MasterSpec, vipServerUrl } from "../../topology";
import type { Phase } from "../phase";
import type { StackContext } from "../stackContext";
import { AuditPolicyFile } from "./auditPolicy";
import { ConfigMapCutover, KubeletCutover } from "./cutover";
import { EtcdMaintenance } from "./etcdMaintenance";
import { FlagParity } from "./flagParity";
import { KuredGate } from "./kuredGate";
import { UpgradeChain } from "./upgradeChain";
import { Verification } from "./verification";

/**
 * Phase 1.5. cluster-info goes to the VIP here, after the load balancer phase and before the
 * first join: a joining node uses the server named in cluster-info, so a stale one would send it
 * to the old address. Then the declared flags on the existing master, and the audit policy for
 * every later master before its join (through ctx.beforeJoin).
 */
export function flagParityPhase(ctx: StackContext, phase: Phase): void {
    const { topology, secrets } = ctx;
    new ConfigMapCutover("cluster-info", { topology, sshPrivateKey: secrets.sshPrivateKey, configMap: "kube-public/cluster-info" }, phase.childOptions());
    const audit = topology.clusterOps.controlPlaneFlags.audit;
    const auditPolicy = (master: MasterSpec, on: Phase, dependsOn: readonly pulumi.Resource[]): pulumi.Resource[] =>
        audit
            ? [
                  new AuditPolicyFile(
                      `${master.name}-audit-policy`,
                      { topology, audit, master, sshPrivateKey: secrets.sshPrivateKey, removeOnDestroy: master.existing === true },
                      on.childOptions([...dependsOn]),
                  ),
              ]
            : [];
    const existingPolicy = auditPolicy(topology.existingMaster, phase, []);
    new FlagParity("flag-parity", { topology, sshPrivateKey: secrets.sshPrivateKey }, phase.childOptions(existingPolicy));
    ctx.beforeJoin.push(auditPolicy);
}

/**
 * Phase 4: kube-proxy first, then every worker's kubelet strictly one node at a time, each waiting
 * for the previous node to be back (control-plane kubelets keep their local apiserver, see
 * kubeletCutoverNodes); and the stack output listing what is left to flip by hand.
 */
export function cutoverPhase(ctx: StackContext, phase: Phase): void {
    const { topology, secrets } = ctx;
    const sshPrivateKey = secrets.sshPrivateKey;
    let previous: pulumi.Resource = new ConfigMapCutover(
        "kube-proxy",
        { topology, sshPrivateKey, configMap: "kube-system/kube-proxy", rollDaemonSet: "kube-system/kube-proxy" },
        phase.childOptions(),
    );
    for (const [position, node] of kubeletCutoverNodes(topology.workers, topology.masters, topology.cluster.domain).entries()) {
        previous = new KubeletCutover(node.name, { topology, sshPrivateKey, node, position }, phase.childOptions([previous]));
    }
    ctx.externalConsumers = externalConsumersOutput(
        topology.clusterOps.cutover.externalConsumers,
        vipServerUrl(topology.cluster),
        directServerUrl(topology.existingMaster, topology.cluster),
    );
}

export function etcdMaintenancePhase(ctx: StackContext, phase: Phase): void {
    new EtcdMaintenance("etcd-maintenance", { topology: ctx.topology }, phase.childOptions());
}

export function kuredGatePhase(ctx: StackContext, phase: Phase): void {
    new KuredGate("kured-gate", { topology: ctx.topology }, phase.childOptions());
}

export function verificationPhase(ctx: StackContext, phase: Phase): void {
    new Verification("verify", { topology: ctx.topology, sshPrivateKey: ctx.secrets.sshPrivateKey }, phase.childOptions());
}

export function upgradeChainPhase(ctx: StackContext, phase: Phase): void {
    new UpgradeChain("upgrade-chain", { topology: ctx.topology }, phase.childOptions());
}
