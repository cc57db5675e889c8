/** Key `etcdMaintenance` (phase 4.5): the etcd backup and defrag CronJobs. */
import type { BackupVolume, EtcdMaintenanceConfig, PhaseId } from "../types";
import { absolutePath, cron, image, k8sName } from "./fields";
import { ConfigObject, optionalObject, reached, Reader } from "./reader";

/** Where the backups go has no default: the operator says, once phase 4.5 comes. */
export const ETCD_MAINTENANCE_DEFAULTS = Object.freeze({
    namespace: "kube-system",
    etcdImage: "registry.k8s.io/etcd:3.6.4-0",
    shellImage: "docker.io/library/debian:trixie-slim",
    defragImage: "ghcr.io/ahrtr/etcd-defrag:v0.41.0",
    backup: Object.freeze({ schedule: "0 */6 * * *", retainCount: 28 }),
    defrag: Object.freeze({ schedule: "30 3 * * 0", rule: "dbSize > dbQuota*80/100 || dbSize - dbSizeInUse > 200*1024*1024", waitBetweenSeconds: 30 }),
});

/** A zone name from the tz database (what a CronJob's spec.timeZone must be); "Local" is refused too. */
function isIanaTimeZone(zone: string): boolean {
    if (zone.toLowerCase() === "local") return false;
    try {
        new Intl.DateTimeFormat("en-US", { timeZone: zone });
        return true;
    } catch {
        return false;
    }
}

function readBackupVolume(r: Reader, b: ConfigObject, needed: boolean): BackupVolume {
    const hasHost = b.hostPath !== undefined;
    const hasNfs = b.nfs !== undefined;
    // No default: where the snapshots go is the operator's call, asked for once the phase comes.
    if (!hasHost && !hasNfs && !needed) return { kind: "hostPath", path: "" };
    if (hasHost === hasNfs) {
        r.fail("etcdMaintenance.backup", { hostPath: b.hostPath, nfs: b.nfs }, "must set exactly one of hostPath (a directory on every master, e.g. an NFS mount) or nfs: { server, path }");
        return { kind: "hostPath", path: "" };
    }
    if (hasHost) return { kind: "hostPath", path: absolutePath(r, b, "hostPath", "etcdMaintenance.backup.hostPath", "") };
    const n = r.object(b.nfs, "etcdMaintenance.backup.nfs");
    return { kind: "nfs", server: r.string(n, "server", "etcdMaintenance.backup.nfs.server"), path: absolutePath(r, n, "path", "etcdMaintenance.backup.nfs.path", "") };
}

export function readEtcdMaintenance(r: Reader, value: unknown, targetPhase: PhaseId | undefined): EtcdMaintenanceConfig {
    const e = optionalObject(r, value, "etcdMaintenance") ?? {};
    const key = (f: string) => `etcdMaintenance.${f}`;
    const b = optionalObject(r, e.backup, key("backup")) ?? {};
    const d = optionalObject(r, e.defrag, key("defrag")) ?? {};
    const timeZone = r.optionalString(e, "timeZone", key("timeZone"));
    if (timeZone !== undefined && !isIanaTimeZone(timeZone)) {
        r.fail(key("timeZone"), timeZone, "must be an IANA time zone such as Europe/London (the apiserver refuses a CronJob with any other)");
    }
    return {
        namespace: k8sName(r, e, "namespace", key("namespace"), ETCD_MAINTENANCE_DEFAULTS.namespace),
        etcdImage: image(r, e, "etcdImage", key("etcdImage"), ETCD_MAINTENANCE_DEFAULTS.etcdImage),
        shellImage: image(r, e, "shellImage", key("shellImage"), ETCD_MAINTENANCE_DEFAULTS.shellImage),
        defragImage: image(r, e, "defragImage", key("defragImage"), ETCD_MAINTENANCE_DEFAULTS.defragImage),
        ...(timeZone ? { timeZone } : {}),
        backup: {
            schedule: cron(r, b, "schedule", key("backup.schedule"), ETCD_MAINTENANCE_DEFAULTS.backup.schedule),
            retainCount: r.integer(b, "retainCount", key("backup.retainCount"), 1, 10000, ETCD_MAINTENANCE_DEFAULTS.backup.retainCount),
            volume: readBackupVolume(r, b, reached(targetPhase, "4.5")),
        },
        defrag: {
            schedule: cron(r, d, "schedule", key("defrag.schedule"), ETCD_MAINTENANCE_DEFAULTS.defrag.schedule),
            rule: r.string(d, "rule", key("defrag.rule"), ETCD_MAINTENANCE_DEFAULTS.defrag.rule),
            waitBetweenSeconds: r.integer(d, "waitBetweenSeconds", key("defrag.waitBetweenSeconds"), 0, 3600, ETCD_MAINTENANCE_DEFAULTS.defrag.waitBetweenSeconds),
        },
    };
}
