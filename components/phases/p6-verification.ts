/** Phase 6: the end-to-end gates (etcd members, LB pool, flag parity, every kubeconfig on the VIP). */
import { Verification } from "../clusterOps/verification";
import type { PhaseInput, PhaseResults } from "./types";

export function verificationPhase({ topology, secrets, phase }: PhaseInput): PhaseResults {
    new Verification("verify", { topology, sshPrivateKey: secrets.sshPrivateKey }, phase.childOptions());
    return {};
}
