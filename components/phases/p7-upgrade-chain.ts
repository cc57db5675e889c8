/** Phase 7: the upgrade chain, walking every master one at a time behind the quorum gate. */
import { controlPlaneGateFigures, Topology } from "@ha-control-plane/topology";
import { UpgradeChain, UpgradeChainArgs } from "../clusterOps/upgradeChain";
import type { PhaseInput, PhaseResults } from "./types";

/** The component's inputs from the topology (also what the engine tests register). */
export function upgradeChainArgs(topology: Topology): UpgradeChainArgs {
    return {
        stack: topology.stack,
        figures: controlPlaneGateFigures(topology.masters),
        firstMaster: topology.existingMaster.name,
        sshUser: topology.ssh.user,
        upgrade: topology.clusterOps.upgrade,
    };
}

export function upgradeChainPhase({ topology, phase, kubernetesProvider }: PhaseInput): PhaseResults {
    new UpgradeChain("upgrade-chain", upgradeChainArgs(topology), { ...phase.childOptions(), provider: kubernetesProvider() });
    return {};
}
