/** Phase 5: kured's sentinel gate, which refuses a reboot that would cost the control plane its quorum. */
import { controlPlaneGateFigures, etcdPodNames, Topology } from "@ha-control-plane/topology";
import { KuredGate, KuredGateArgs } from "../clusterOps/kuredGate";
import type { PhaseInput, PhaseResults } from "./types";

/** The component's inputs from the topology (also what the engine tests register). */
export function kuredGateArgs(topology: Topology): KuredGateArgs {
    return { stack: topology.stack, figures: controlPlaneGateFigures(topology.masters), etcdPods: etcdPodNames(topology.masters), kured: topology.clusterOps.kured };
}

export function kuredGatePhase({ topology, phase, kubernetesProvider }: PhaseInput): PhaseResults {
    new KuredGate("kured-gate", kuredGateArgs(topology), { ...phase.childOptions(), provider: kubernetesProvider() });
    return {};
}
