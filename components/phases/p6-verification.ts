/** Phase 6: the end-to-end gates (etcd members, LB pool, flag parity, every kubeconfig on the VIP). */
import type * as pulumi from "@pulumi/pulumi";
import { cutoverOrder, kubeletServerUrl, Topology, vipServerUrl } from "@ha-control-plane/topology";
import { existingMasterHost } from "../clusterOps/cutover";
import { flagRollout } from "../clusterOps/flagParity";
import { Verification, VerificationArgs } from "../clusterOps/verification";
import { memberServer, phaseOnePool } from "../loadBalancer/shared";
import type { PhaseInput, PhaseResults } from "./types";

/** The gates' inputs from the topology. */
export function verificationArgs(topology: Topology, sshPrivateKey: pulumi.Output<string>): VerificationArgs {
    const lb = topology.loadBalancer;
    const hostOf = (m: { name: string; ip: string }) => ({ name: m.name, ip: m.ip });
    const rollout = flagRollout(topology);
    return {
        existingMaster: existingMasterHost(topology),
        masters: topology.masters.map(hostOf),
        newMasters: topology.newMasters.map(hostOf),
        sshUser: topology.ssh.user,
        sshPrivateKey,
        pool: {
            kind: lb.kind,
            host: lb.host,
            user: lb.user,
            backend: phaseOnePool(topology).backend.name,
            servers: topology.masters.map((m) => memberServer(topology, m).name),
            waitUpSeconds: lb.waitUpSeconds,
        },
        ...(rollout ? { rollout } : {}),
        kubelets: cutoverOrder(topology.workers, topology.masters, topology.cluster.domain).map((node) => ({ node, server: kubeletServerUrl(node, topology.cluster) })),
        vipServerUrl: vipServerUrl(topology.cluster),
    };
}

export function verificationPhase({ topology, secrets, phase }: PhaseInput): PhaseResults {
    new Verification("verify", verificationArgs(topology, secrets.sshPrivateKey), phase.childOptions());
    return {};
}
