/** Field checks the cluster-wide phases' keys share: Kubernetes names, paths, images, schedules. */
import { isKubernetesName, KUBERNETES_NAME_MAX_LENGTH } from "../kubernetesNames";
import { ConfigObject, Reader } from "./reader";

const CRON = /^(\S+\s+){4}\S+$/;
const IMAGE = /^[a-z0-9][a-z0-9._\-/:@]*$/;
const ABSOLUTE_PATH = /^\/[^\s'"\\]*$/;

export function k8sName(r: Reader, obj: ConfigObject, field: string, key: string, fallback: string): string {
    const value = r.string(obj, field, key, fallback);
    if (value && !isKubernetesName(value)) r.fail(key, value, `must be a Kubernetes name (lowercase letters, digits, hyphens; at most ${KUBERNETES_NAME_MAX_LENGTH})`);
    return value;
}

export function absolutePath(r: Reader, obj: ConfigObject, field: string, key: string, fallback: string): string {
    const value = r.string(obj, field, key, fallback);
    if (value && !ABSOLUTE_PATH.test(value)) r.fail(key, value, "must be an absolute path without spaces or quotes");
    return value;
}

export function image(r: Reader, obj: ConfigObject, field: string, key: string, fallback: string): string {
    const value = r.string(obj, field, key, fallback);
    if (value && (!IMAGE.test(value) || !/[:@]/.test(value.split("/").pop() ?? ""))) {
        r.fail(key, value, "must be a container image reference with a tag or digest (registry/name:tag)");
    }
    return value;
}

export function cron(r: Reader, obj: ConfigObject, field: string, key: string, fallback: string): string {
    const value = r.string(obj, field, key, fallback);
    if (value && !CRON.test(value)) r.fail(key, value, "must be a five-field cron schedule such as \"0 */6 * * *\"");
    return value;
}
