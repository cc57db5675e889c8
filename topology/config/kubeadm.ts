/** Key `kubeadm`: how the program drives kubeadm (phase 0 retrofit, phase 2/3 joins, a master's rollback). */
import { KUBEADM_CONFIG_API_VERSIONS, kubeadmConfigApiVersion, parseKubeadmDuration } from "../kubeadm";
import type { KubeadmConfig } from "../types";
import { DNS_LABEL, Reader } from "./reader";

/** Every field has a default, so the key may be absent. */
export const KUBEADM_DEFAULTS = Object.freeze({
    etcdSnapshotDir: "/var/lib/ha-control-plane/etcd-snapshots",
    etcdSnapshotMaxAgeHours: 24,
    takeEtcdSnapshot: true,
    etcdSnapshotTimeoutMinutes: 10,
    proxmoxSnapshotName: "pre-ha-retrofit",
    keepProxmoxSnapshot: true,
    backupDir: "/var/lib/ha-control-plane/retrofit",
    joinTokenTtl: "30m",
    readyzTimeoutSeconds: 300,
    cloudInitTimeoutSeconds: 1800,
    joinTimeoutSeconds: 900,
    gateTimeoutSeconds: 600,
    drainTimeoutSeconds: 600,
    minContainerdVersion: "2.2",
    verifyNamespaces: Object.freeze([] as string[]),
});

const ABSOLUTE_PATH = /^\/[A-Za-z0-9._\/-]*$/;
/** Proxmox's snapshot name rule (pve-configid): a letter, then letters, digits, - or _, at most 40. */
const PROXMOX_SNAPSHOT_NAME = /^[A-Za-z][A-Za-z0-9_-]{1,39}$/;
const MIN_JOIN_TOKEN_TTL_SECONDS = 5 * 60;
const MAX_JOIN_TOKEN_TTL_SECONDS = 24 * 3600;

export function readKubeadm(r: Reader, value: unknown, kubernetesVersion: string | undefined): KubeadmConfig {
    const k = value === undefined ? {} : r.object(value, "kubeadm");
    if (kubernetesVersion && !kubeadmConfigApiVersion(kubernetesVersion)) {
        r.fail("kubernetesVersion", kubernetesVersion, `kubeadm must write one of ${KUBEADM_CONFIG_API_VERSIONS.join(", ")} (Kubernetes 1.22 or later)`);
    }
    const path = (field: string, fallback: string): string => {
        const v = r.string(k, field, `kubeadm.${field}`, fallback);
        if (v && !ABSOLUTE_PATH.test(v)) r.fail(`kubeadm.${field}`, k[field], "must be an absolute path of letters, digits, . _ - and /");
        return v;
    };
    const etcdSnapshotDir = path("etcdSnapshotDir", KUBEADM_DEFAULTS.etcdSnapshotDir);
    const backupDir = path("backupDir", KUBEADM_DEFAULTS.backupDir);
    if (/^\/(tmp|run)(\/|$)/.test(backupDir)) {
        r.fail("kubeadm.backupDir", k.backupDir, "must survive a reboot (not under /tmp or /run): destroying phase 0 restores from it");
    }
    const proxmoxSnapshotName = r.string(k, "proxmoxSnapshotName", "kubeadm.proxmoxSnapshotName", KUBEADM_DEFAULTS.proxmoxSnapshotName);
    if (proxmoxSnapshotName && !PROXMOX_SNAPSHOT_NAME.test(proxmoxSnapshotName)) {
        r.fail("kubeadm.proxmoxSnapshotName", k.proxmoxSnapshotName, "must start with a letter and hold 2 to 40 letters, digits, - or _ (Proxmox's rule)");
    }
    const joinTokenTtl = r.string(k, "joinTokenTtl", "kubeadm.joinTokenTtl", KUBEADM_DEFAULTS.joinTokenTtl);
    const ttl = parseKubeadmDuration(joinTokenTtl);
    if (joinTokenTtl && (ttl === undefined || ttl < MIN_JOIN_TOKEN_TTL_SECONDS || ttl > MAX_JOIN_TOKEN_TTL_SECONDS)) {
        r.fail("kubeadm.joinTokenTtl", k.joinTokenTtl, "must be a kubeadm duration (such as 30m or 1h30m) from 5m to 24h: short-lived, yet long enough for one join");
    }
    const minContainerdVersion = r.string(k, "minContainerdVersion", "kubeadm.minContainerdVersion", KUBEADM_DEFAULTS.minContainerdVersion);
    if (minContainerdVersion && !/^\d+\.\d+(\.\d+)?$/.test(minContainerdVersion)) {
        r.fail("kubeadm.minContainerdVersion", k.minContainerdVersion, "must be MAJOR.MINOR or MAJOR.MINOR.PATCH, such as 2.2");
    }
    const verifyNamespaces = r.array(k.verifyNamespaces ?? KUBEADM_DEFAULTS.verifyNamespaces, "kubeadm.verifyNamespaces").map((ns, i) => {
        if (typeof ns === "string" && DNS_LABEL.test(ns)) return ns;
        r.fail(`kubeadm.verifyNamespaces[${i}]`, ns, "must be a namespace name (a lowercase DNS label)");
        return "";
    });
    return {
        etcdSnapshotDir,
        etcdSnapshotMaxAgeHours: r.number(k, "etcdSnapshotMaxAgeHours", "kubeadm.etcdSnapshotMaxAgeHours", 0.1, KUBEADM_DEFAULTS.etcdSnapshotMaxAgeHours),
        takeEtcdSnapshot: r.boolean(k, "takeEtcdSnapshot", "kubeadm.takeEtcdSnapshot", KUBEADM_DEFAULTS.takeEtcdSnapshot),
        etcdSnapshotTimeoutMinutes: r.integer(k, "etcdSnapshotTimeoutMinutes", "kubeadm.etcdSnapshotTimeoutMinutes", 1, 240, KUBEADM_DEFAULTS.etcdSnapshotTimeoutMinutes),
        proxmoxSnapshotName,
        keepProxmoxSnapshot: r.boolean(k, "keepProxmoxSnapshot", "kubeadm.keepProxmoxSnapshot", KUBEADM_DEFAULTS.keepProxmoxSnapshot),
        backupDir,
        joinTokenTtl,
        readyzTimeoutSeconds: r.integer(k, "readyzTimeoutSeconds", "kubeadm.readyzTimeoutSeconds", 30, 3600, KUBEADM_DEFAULTS.readyzTimeoutSeconds),
        cloudInitTimeoutSeconds: r.integer(k, "cloudInitTimeoutSeconds", "kubeadm.cloudInitTimeoutSeconds", 60, 7200, KUBEADM_DEFAULTS.cloudInitTimeoutSeconds),
        joinTimeoutSeconds: r.integer(k, "joinTimeoutSeconds", "kubeadm.joinTimeoutSeconds", 60, 7200, KUBEADM_DEFAULTS.joinTimeoutSeconds),
        gateTimeoutSeconds: r.integer(k, "gateTimeoutSeconds", "kubeadm.gateTimeoutSeconds", 30, 3600, KUBEADM_DEFAULTS.gateTimeoutSeconds),
        drainTimeoutSeconds: r.integer(k, "drainTimeoutSeconds", "kubeadm.drainTimeoutSeconds", 30, 7200, KUBEADM_DEFAULTS.drainTimeoutSeconds),
        minContainerdVersion,
        verifyNamespaces,
    };
}
