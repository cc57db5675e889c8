/** Key `kubernetesAccess`: how the program reaches the Kubernetes API from phase 4.5 on (the kubeconfig is a secret). */
import type { KubernetesAccessConfig, PhaseId } from "../types";
import { reached, Reader } from "./reader";

/** The first phase that talks to the Kubernetes API through the provider (CronJobs). */
export const FIRST_KUBERNETES_API_PHASE: PhaseId = "4.5";

export function readKubernetesAccess(r: Reader, value: unknown, targetPhase: PhaseId | undefined): KubernetesAccessConfig {
    const needed = reached(targetPhase, FIRST_KUBERNETES_API_PHASE);
    const k = value === undefined && !needed ? {} : r.object(value ?? {}, "kubernetesAccess");
    // The CronJobs, gate and chain ConfigMaps go through the Kubernetes API from phase 4.5 on.
    if (needed) r.secretPresent(k, "kubeconfig", "kubernetesAccess.kubeconfig");
    const context = r.optionalString(k, "context", "kubernetesAccess.context");
    return context ? { context } : {};
}
