/**
 * Phase 0: retrofit the existing master (controlPlaneEndpoint on the VIP, certificate SANs), after
 * its preflight and a Proxmox snapshot. Every later join waits for it.
 */
import { Retrofit } from "../kubeadm/retrofit";
import type { PhaseInput, PhaseResults } from "./types";

export function retrofitPhase({ topology, secrets, phase }: PhaseInput): PhaseResults {
    const retrofit = new Retrofit("retrofit", { topology, sshPrivateKey: secrets.sshPrivateKey }, phase.childOptions());
    return { retrofit };
}
