/** Key `targetPhase`: how far the migration goes; later phases are not registered at all. */
import { isPhaseId, PHASE_IDS } from "../phases";
import type { PhaseId } from "../types";
import { Reader } from "./reader";

export const DEFAULT_TARGET_PHASE: PhaseId = "0";

/** The phase id, or undefined (and a recorded issue) for anything else. */
export function readTargetPhase(r: Reader, value: unknown): PhaseId | undefined {
    const raw = value ?? DEFAULT_TARGET_PHASE;
    const targetPhase = String(raw);
    if (isPhaseId(targetPhase)) return targetPhase;
    r.fail("targetPhase", raw, `must be one of the phase ids ${PHASE_IDS.join(", ")}`);
    return undefined;
}
