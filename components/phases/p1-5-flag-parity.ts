/**
 * Phase 1.5. cluster-info goes to the VIP here, after the load balancer phase and before the
 * first join: a joining node uses the server named in cluster-info, so a stale one would send it
 * to the old address. Then the declared flags on the existing master, and the audit policy for
 * every later master before its join (returned as a beforeJoin step for phases 2 and 3).
 */
import type * as pulumi from "@pulumi/pulumi";
import type { MasterSpec } from "@ha-control-plane/topology";
import { AuditPolicyFile } from "../clusterOps/auditPolicy";
import { ConfigMapCutover, configMapCutoverArgs } from "../clusterOps/cutover";
import { FlagParity, flagRollout } from "../clusterOps/flagParity";
import type { Phase } from "../phase";
import type { BeforeJoinStep, PhaseInput, PhaseResults } from "./types";

export function flagParityPhase({ topology, secrets, phase }: PhaseInput): PhaseResults {
    new ConfigMapCutover("cluster-info", configMapCutoverArgs(topology, secrets.sshPrivateKey, "kube-public/cluster-info"), phase.childOptions());
    const audit = topology.clusterOps.controlPlaneFlags.audit;
    const auditPolicy: BeforeJoinStep = (master: MasterSpec, on: Phase, dependsOn: readonly pulumi.Resource[]) =>
        audit
            ? [
                  new AuditPolicyFile(
                      `${master.name}-audit-policy`,
                      {
                          master: { name: master.name, address: master.ip },
                          sshUser: topology.ssh.user,
                          sshPrivateKey: secrets.sshPrivateKey,
                          policy: audit.policy,
                          policyPath: audit.policyPath,
                          removeOnDestroy: master.existing === true,
                      },
                      on.childOptions(dependsOn),
                  ),
              ]
            : [];
    const existingPolicy = auditPolicy(topology.existingMaster, phase, []);
    const { existingMaster } = topology;
    new FlagParity(
        "flag-parity",
        { master: { name: existingMaster.name, ip: existingMaster.ip }, sshUser: topology.ssh.user, sshPrivateKey: secrets.sshPrivateKey, rollout: flagRollout(topology) },
        phase.childOptions(existingPolicy),
    );
    return { beforeJoin: [auditPolicy] };
}
