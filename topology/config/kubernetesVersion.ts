/** Key `kubernetesVersion`: the cluster's version, which new masters install exactly. */
import { Reader } from "./reader";

export const DEFAULT_KUBERNETES_VERSION = "1.34.8";

const SEMVER = /^(\d+)\.(\d+)\.(\d+)$/;

export interface KubernetesRelease {
    readonly kubernetesVersion: string;
    /** `v1.34` for 1.34.x: the pkgs.k8s.io channel. */
    readonly kubernetesMinor: string;
}

/** The version and its minor's channel, or undefined (and a recorded issue) when it is not MAJOR.MINOR.PATCH. */
export function readKubernetesVersion(r: Reader, value: unknown): KubernetesRelease | undefined {
    const kubernetesVersion = String(value ?? DEFAULT_KUBERNETES_VERSION);
    const semver = SEMVER.exec(kubernetesVersion);
    if (semver) return { kubernetesVersion, kubernetesMinor: `v${semver[1]}.${semver[2]}` };
    r.fail("kubernetesVersion", value, "must be MAJOR.MINOR.PATCH, for example 1.34.8 (no leading v)");
    return undefined;
}
