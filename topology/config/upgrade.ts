/** Key `upgrade` (phase 7): the multi-master upgrade chain's namespace, account and bounds. */
import type { UpgradeChainConfig } from "../types";
import { k8sName } from "./fields";
import { optionalObject, Reader } from "./reader";

export const UPGRADE_DEFAULTS = Object.freeze({
    namespace: "k8s-upgrade",
    serviceAccount: "k8s-upgrade",
    drainTimeoutSeconds: 600,
    readyTimeoutSeconds: 600,
});

export function readUpgrade(r: Reader, value: unknown): UpgradeChainConfig {
    const u = optionalObject(r, value, "upgrade") ?? {};
    return {
        namespace: k8sName(r, u, "namespace", "upgrade.namespace", UPGRADE_DEFAULTS.namespace),
        serviceAccount: k8sName(r, u, "serviceAccount", "upgrade.serviceAccount", UPGRADE_DEFAULTS.serviceAccount),
        drainTimeoutSeconds: r.integer(u, "drainTimeoutSeconds", "upgrade.drainTimeoutSeconds", 30, 7200, UPGRADE_DEFAULTS.drainTimeoutSeconds),
        readyTimeoutSeconds: r.integer(u, "readyTimeoutSeconds", "upgrade.readyTimeoutSeconds", 30, 7200, UPGRADE_DEFAULTS.readyTimeoutSeconds),
    };
}
