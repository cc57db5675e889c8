/** Key `kured` (phase 5): where the kured sentinel gate runs its control-plane check, and how often. */
import type { KuredGateConfig } from "../types";
import { k8sName } from "./fields";
import { optionalObject, Reader } from "./reader";

export const KURED_DEFAULTS = Object.freeze({
    namespace: "kured",
    /** The gate DaemonSet's, in the kured stack. */
    serviceAccount: "kured-sentinel-gate",
    checkIntervalSeconds: 300,
});

export function readKured(r: Reader, value: unknown): KuredGateConfig {
    const k = optionalObject(r, value, "kured") ?? {};
    return {
        namespace: k8sName(r, k, "namespace", "kured.namespace", KURED_DEFAULTS.namespace),
        serviceAccount: k8sName(r, k, "serviceAccount", "kured.serviceAccount", KURED_DEFAULTS.serviceAccount),
        checkIntervalSeconds: r.integer(k, "checkIntervalSeconds", "kured.checkIntervalSeconds", 10, 86400, KURED_DEFAULTS.checkIntervalSeconds),
    };
}
