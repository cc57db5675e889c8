/**
 * Kubernetes object names as this stack writes and accepts them: lowercase letters, digits and
 * hyphens, starting and ending with a letter or digit, at most 63 characters (a DNS label, the
 * strictest of Kubernetes' name rules, so one rule fits every kind the stack creates).
 */

export const KUBERNETES_NAME_MAX_LENGTH = 63;

const KUBERNETES_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isKubernetesName(value: string): boolean {
    return KUBERNETES_NAME.test(value) && value.length <= KUBERNETES_NAME_MAX_LENGTH;
}

/** A name built from parts, cut to the limit, without the trailing hyphens the cut may leave. */
export function truncateKubernetesName(name: string): string {
    return name.slice(0, KUBERNETES_NAME_MAX_LENGTH).replace(/-+$/, "");
}
