/** Phase 5: kured's sentinel gate, which refuses a reboot that would cost the control plane its quorum. */
import { KuredGate } from "../clusterOps/kuredGate";
import type { PhaseInput, PhaseResults } from "./types";

export function kuredGatePhase({ topology, phase }: PhaseInput): PhaseResults {
    new KuredGate("kured-gate", { topology }, phase.childOptions());
    return {};
}
