import { strict as assert } from "assert";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { execFileSync } from "child_process";
import {
    checkAuditPolicy,
    clusterConfigurationFragment,
    ConfigError,
    declaredFlags,
    flagExpectations,
    loadTopology,
    minShutdownDelaySeconds,
} from "@ha-control-plane/topology";
import { PROJECT_ROOT, readProjectFile } from "../../components/projectFiles";
import { labConfig } from "../helpers/program";

type Raw = Record<string, any>;
const load = (raw: Raw) => loadTopology(raw, { project: "ha-control-plane", stack: "test", readProjectFile });
const lab = (target = "7"): Raw => JSON.parse(JSON.stringify(labConfig(target).raw));

function rejection(edit: (raw: Raw) => void, target = "7"): ConfigError {
    const raw = lab(target);
    edit(raw);
    try {
        load(raw);
    } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        return err;
    }
    assert.fail("the config was accepted");
}

describe("cluster-wide config keys (topology/config/: controlPlaneFlags, cutover, etcdMaintenance, kured, upgrade, kubernetesAccess)", () => {
    let dir: string;
    before(() => (dir = mkdtempSync(path.join(tmpdir(), "hacp-clusterops-config-"))));
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("reads the lab's values and derives the declared flags once", () => {
        const t = load(lab());
        const ops = t.clusterOps;
        assert.equal(ops.controlPlaneFlags.oidc?.issuerUrl, "https://authentik.viktorbarzin.me/application/o/kubernetes/");
        assert.match(ops.controlPlaneFlags.audit!.policy, /kind: Policy/);
        assert.deepEqual(ops.controlPlaneFlags.etcd, { autoCompactionRetention: "8h", snapshotCount: 10000 });
        assert.deepEqual(ops.etcdMaintenance.backup.volume, { kind: "hostPath", path: "/srv/nfs/etcd-backup" });
        assert.equal(ops.kured.namespace, "kured");
        assert.equal(ops.upgrade.namespace, "k8s-upgrade");
        const d = declaredFlags(ops.controlPlaneFlags);
        assert.deepEqual(Object.keys(d.etcd), ["auto-compaction-retention", "snapshot-count"]);
        assert.equal(d.apiServer["audit-policy-file"], "/etc/kubernetes/audit/policy.yaml");
        assert.deepEqual(d.apiServerVolumes.map((v) => `${v.name}:${v.pathType}:${v.readOnly}`), ["audit-policy:File:true", "audit-logs:DirectoryOrCreate:false"]);
        const expectations = flagExpectations(d);
        assert.equal(expectations.filter((e) => e === "--expect-etcd").length, 2);
        assert.ok(expectations.includes("/var/log/kubernetes/audit:rw"));
        assert.ok(!JSON.stringify(t).includes("placeholder-for-"), "the kubeconfig secret stays out of the topology");
    });

    it("every key has a default: a stack without them loads, with no flags declared", () => {
        const raw = lab("4");
        for (const key of ["controlPlaneFlags", "cutover", "etcdMaintenance", "kured", "upgrade", "kubernetesAccess"]) delete raw[key];
        const t = load(raw);
        assert.deepEqual(declaredFlags(t.clusterOps.controlPlaneFlags), { apiServer: {}, apiServerVolumes: [], etcd: {} });
        assert.deepEqual(clusterConfigurationFragment(declaredFlags(t.clusterOps.controlPlaneFlags)), {});
        assert.equal(t.clusterOps.etcdMaintenance.backup.schedule, "0 */6 * * *");
        // Where backups go has no default: asked for once phase 4.5 is in reach.
        const err = rejection((r) => delete r.etcdMaintenance, "4.5");
        assert.match(err.message, /etcdMaintenance\.backup = \{\}: must set exactly one of hostPath/);
    });

    it("the lab's graceful apiserver shutdown: --shutdown-delay-duration and --shutdown-send-retry-after, declared like every phase 1.5 flag", () => {
        const d = declaredFlags(load(lab()).clusterOps.controlPlaneFlags);
        assert.equal(d.apiServer["shutdown-delay-duration"], "5s");
        assert.equal(d.apiServer["shutdown-send-retry-after"], "true");
        assert.ok(flagExpectations(d).includes("shutdown-delay-duration=5s"));
        const raw = lab();
        raw.controlPlaneFlags.apiserverShutdown = { delaySeconds: 8, sendRetryAfter: false };
        const quiet = declaredFlags(load(raw).clusterOps.controlPlaneFlags);
        assert.equal(quiet.apiServer["shutdown-delay-duration"], "8s");
        assert.equal(quiet.apiServer["shutdown-send-retry-after"], undefined);
    });

    it("the shutdown delay must outlast the load balancer's ejection: phase 1's timings decide the minimum", () => {
        // Default checks eject within 1000 + 2 x 250 ms, plus a 1000 ms check timeout: at least 4 s.
        assert.equal(minShutdownDelaySeconds(1500, 1000), 4);
        const err = rejection((r) => (r.controlPlaneFlags.apiserverShutdown = { delaySeconds: 3 }));
        assert.match(err.message, /controlPlaneFlags\.apiserverShutdown\.delaySeconds = 3: must be at least 4: loadBalancer\.healthCheck ejects an unready apiserver within 1500 ms/);
        // Slower checks need a longer delay.
        const slow = rejection((r) => {
            r.loadBalancer.healthCheck = { intervalMs: 2000, fastIntervalMs: 2000, fall: 3, timeoutMs: 2000 };
            r.controlPlaneFlags.apiserverShutdown = { delaySeconds: 5 };
        });
        assert.match(slow.message, /must be at least 9/);
    });

    it("requires the kubeconfig secret only from phase 4.5, naming the key", () => {
        const drop = (raw: Raw) => delete raw.kubernetesAccess.kubeconfig;
        const err = rejection(drop, "4.5");
        assert.match(err.message, /kubernetesAccess\.kubeconfig .*must be set, as a secret: pulumi config set --secret --path kubernetesAccess\.kubeconfig/);
        const raw = lab("4");
        drop(raw);
        assert.doesNotThrow(() => load(raw));
    });

    const cases: [string, (r: Raw) => void, string, RegExp][] = [
        ["an http issuer", (r) => (r.controlPlaneFlags.oidc.issuerUrl = "http://authentik/"), "controlPlaneFlags.oidc.issuerUrl", /https/],
        ["an OIDC block without client id", (r) => delete r.controlPlaneFlags.oidc.clientId, "controlPlaneFlags.oidc.clientId", /non-empty/],
        ["a missing audit policy file", (r) => (r.controlPlaneFlags.audit.policyFile = "scripts/cluster/nope.yaml"), "controlPlaneFlags.audit.policyFile", /readable file/],
        ["a relative policy path on the hosts", (r) => (r.controlPlaneFlags.audit.policyPath = "audit.yaml"), "controlPlaneFlags.audit.policyPath", /absolute path/],
        ["one name for both audit volumes", (r) => (r.controlPlaneFlags.audit.logVolumeName = "audit-policy"), "controlPlaneFlags.audit.logVolumeName", /must differ/],
        ["a retention in words", (r) => (r.controlPlaneFlags.etcd.autoCompactionRetention = "8 hours"), "controlPlaneFlags.etcd.autoCompactionRetention", /duration/],
        ["a tiny snapshot count", (r) => (r.controlPlaneFlags.etcd.snapshotCount = 5), "controlPlaneFlags.etcd.snapshotCount", /from 100/],
        ["a consumer without location", (r) => delete r.cutover.externalConsumers[0].location, "cutover.externalConsumers[0].location", /non-empty/],
        ["a zero node timeout", (r) => (r.cutover.nodeReadyTimeoutSeconds = 0), "cutover.nodeReadyTimeoutSeconds", /from 30/],
        ["a four-field schedule", (r) => (r.etcdMaintenance.backup.schedule = "0 */6 * *"), "etcdMaintenance.backup.schedule", /five-field cron/],
        // The apiserver refuses such a CronJob at preview (tests/controlPlane/engine.cp.ts); the config says so first.
        ["a time zone that is none", (r) => (r.etcdMaintenance.timeZone = "Mars/Olympus_Mons"), "etcdMaintenance.timeZone", /IANA time zone/],
        ["the Local time zone", (r) => (r.etcdMaintenance.timeZone = "Local"), "etcdMaintenance.timeZone", /IANA time zone/],
        ["a shutdown delay past the kubelet's grace period", (r) => (r.controlPlaneFlags.apiserverShutdown.delaySeconds = 25), "controlPlaneFlags.apiserverShutdown.delaySeconds", /at most 20: the kubelet kills a static pod 30 s after SIGTERM/],
        ["no retention", (r) => (r.etcdMaintenance.backup.retainCount = 0), "etcdMaintenance.backup.retainCount", /from 1/],
        ["both backup volumes", (r) => (r.etcdMaintenance.backup.nfs = { server: "nas", path: "/x" }), "etcdMaintenance.backup", /exactly one of hostPath/],
        ["an untagged image", (r) => (r.etcdMaintenance.defragImage = "ghcr.io/ahrtr/etcd-defrag"), "etcdMaintenance.defragImage", /tag or digest/],
        ["a namespace with capitals", (r) => (r.kured.namespace = "Kured"), "kured.namespace", /Kubernetes name/],
        ["an upgrade service account with spaces", (r) => (r.upgrade.serviceAccount = "k8s upgrade"), "upgrade.serviceAccount", /Kubernetes name/],
    ];
    for (const [what, edit, key, rule] of cases) {
        it(`refuses ${what}, naming ${key}`, () => {
            const err = rejection(edit);
            const issue = err.issues.find((i) => i.key === key);
            assert.ok(issue, `no issue for ${key} in: ${err.message}`);
            assert.match(issue.rule, rule);
        });
    }

    it("accepts an IANA time zone for the etcd CronJobs", () => {
        const raw = lab("7");
        raw.etcdMaintenance.timeZone = "Europe/London";
        assert.equal(load(raw).clusterOps.etcdMaintenance.timeZone, "Europe/London");
    });

    it("checks the audit policy's content, not just that the file exists", () => {
        assert.equal(checkAuditPolicy("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Metadata\n"), undefined);
        assert.match(checkAuditPolicy("apiVersion: v1\nkind: ConfigMap\n")!, /audit\.k8s\.io\/v1 Policy/);
        assert.match(checkAuditPolicy("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n")!, /at least one rule/);
        assert.match(checkAuditPolicy("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Everything\n")!, /rules\[0\]\.level/);
        const bad = path.join(dir, "bad-policy.yaml");
        writeFileSync(bad, "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n");
        const err = rejection((r) => (r.controlPlaneFlags.audit.policyFile = bad));
        assert.match(err.message, /controlPlaneFlags\.audit\.policyFile .*at least one rule/);
    });

    it("the shipped audit policy parses as an audit.k8s.io/v1 Policy", () => {
        const text = execFileSync("cat", [path.join(PROJECT_ROOT, "scripts/cluster/audit-policy.yaml")], { encoding: "utf8" });
        assert.equal(checkAuditPolicy(text), undefined);
    });
});
