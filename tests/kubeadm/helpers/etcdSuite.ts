/**
 * What the suites of the etcd scripts share (quorum-guard.sh, remove-member.sh,
 * control-plane-member.sh, control-plane-gate.sh): real etcd clusters (Debian's etcd 3.4, on
 * free loopback ports, stopped at the end of the suite), the steps as ControlPlaneJoin builds
 * them, and a learner left by a join that failed half-way.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { etcdMembershipCommand, joinGateCommand } from "../../../components/kubeadm/controlPlaneJoin";
import { DAEMON_HOOK_TIMEOUT_MS, DaemonGroup } from "../../helpers/daemons";
import { EtcdCluster } from "./etcdCluster";

export const MASTERS = ["k8s-master", "k8s-master-2", "k8s-master-3"];

export const etcdAvailable = () => ["etcd", "etcdctl"].every((bin) => spawnSync("which", [bin]).status === 0);

/** The environment the scripts read etcd's address and client certificates from, as root. */
export const scriptEnv = (c: EtcdCluster) => ({ ...process.env, ...c.env(), HACP_ALLOW_NON_ROOT: "1" });

/** The etcd-membership step of ControlPlaneJoin for NODE, as the program builds it (pre-join on create, the rollback on delete). */
export const membership = (node: string, peerUrl: string, timeouts = { drain: 600, remove: 300 }) =>
    etcdMembershipCommand({ sshUser: "ubuntu", node, peerUrl, protect: "k8s-master", drainTimeoutSeconds: timeouts.drain, timeoutSeconds: timeouts.remove });

/** The post-join gate of ControlPlaneJoin for NODE. */
export const gate = (node: string, members: string[], later: string[], timeoutSeconds: number) => joinGateCommand({ sshUser: "ubuntu", node, members, later, timeoutSeconds });

/** kubectl's arguments without the kubeconfig and timeout flags every call carries. */
export const withoutClientFlags = (argv: readonly string[]) =>
    argv.filter((a) => !a.startsWith("--kubeconfig") && !a.startsWith("--request-timeout") && !a.endsWith("admin.conf")).join(" ");

/**
 * Starts one cluster per entry of `specs` (its member names), together, in the calling suite's
 * `before`; stops them in its `after`. etcd refuses a reconfiguration during its first seconds
 * (strict reconfig check): the scripts retry, and the clusters boot while the first tests run
 * when `early` is called from a suite that needs no etcd.
 */
export function etcdClusters<K extends string>(specs: Record<K, readonly string[]>) {
    const daemons = new DaemonGroup();
    let starting: Promise<Record<K, EtcdCluster>> | undefined;
    const start = () => {
        starting ??= (async () => {
            const names = Object.keys(specs) as K[];
            const settled = await Promise.allSettled(names.map((k) => EtcdCluster.start(specs[k], daemons)));
            const failed = settled.find((s) => s.status === "rejected");
            if (failed) {
                await Promise.all(settled.map((s) => (s.status === "fulfilled" ? s.value.destroy() : undefined)));
                throw (failed as PromiseRejectedResult).reason;
            }
            return Object.fromEntries(names.map((k, i) => [k, (settled[i] as PromiseFulfilledResult<EtcdCluster>).value])) as Record<K, EtcdCluster>;
        })();
        return starting;
    };
    let clusters: Record<K, EtcdCluster> | undefined;
    return {
        /** Starts booting now (not awaited), so a suite that needs no etcd runs meanwhile. */
        early() {
            if (etcdAvailable()) start().catch(() => undefined);
        },
        /** Registers the `before` that waits for the clusters and the `after` that stops them. */
        hooks() {
            before(async function () {
                this.timeout(DAEMON_HOOK_TIMEOUT_MS);
                if (!etcdAvailable()) throw new Error("etcd and etcdctl are required (Debian packages etcd-server and etcd-client)");
                clusters = await start();
            });
            after(async () => {
                // Also what a `before` that timed out is still starting.
                await daemons.stopAll();
                await starting?.then((all) => Promise.all(Object.values<EtcdCluster>(all).map((c) => c.destroy())), () => undefined);
            });
        },
        get(name: K): EtcdCluster {
            if (!clusters) throw new Error("the etcd clusters are not started (call hooks() in the suite)");
            return clusters[name];
        },
    };
}

export const STALE_PEER = "http://127.0.0.1:9";

/** kubeadm's join adds the member as a learner first; here its etcd never starts. */
async function addStaleLearner(c: EtcdCluster, peer = STALE_PEER): Promise<void> {
    // etcd refuses reconfiguration during a cluster's first seconds: retried, bounded.
    for (let tries = 0; ; tries++) {
        const add = c.etcdctl(["member", "add", "k8s-master-3", "--learner", "--peer-urls", peer]);
        if (add.status === 0) return;
        if (tries >= 40) assert.fail(`member add --learner kept failing: ${add.stderr}`);
        await new Promise((r) => setTimeout(r, 500));
    }
}

/** How many of the keys `staleLearnerCluster` wrote are readable. */
export const staleKeys = (c: EtcdCluster) => c.etcdctl(["get", "/registry/stale/", "--prefix", "--keys-only"]).stdout.trim().split("\n").filter(Boolean).length;

/**
 * In the calling suite: master-2 joined; master-3's join failed after `member add --learner`
 * (the learner is added, never started). 20 keys under /registry/stale/.
 */
export function staleLearnerCluster(): () => EtcdCluster {
    let stale: EtcdCluster | undefined;
    const daemons = new DaemonGroup();
    before(async function () {
        this.timeout(DAEMON_HOOK_TIMEOUT_MS);
        stale = await EtcdCluster.start(MASTERS.slice(0, 2), daemons);
        for (let i = 0; i < 20; i++) assert.equal(stale.etcdctl(["put", `/registry/stale/key-${i}`, `value-${i}`]).status, 0);
        await addStaleLearner(stale, STALE_PEER);
    });
    after(() => daemons.stopAll());
    return () => stale!;
}
