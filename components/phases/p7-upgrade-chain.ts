/** Phase 7: the upgrade chain, walking every master one at a time behind the quorum gate. */
import { UpgradeChain } from "../clusterOps/upgradeChain";
import type { PhaseInput, PhaseResults } from "./types";

export function upgradeChainPhase({ topology, phase }: PhaseInput): PhaseResults {
    new UpgradeChain("upgrade-chain", { topology }, phase.childOptions());
    return {};
}
