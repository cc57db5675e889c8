import { strict as assert } from "assert";
import { CronJob } from "kubernetes-models/batch/v1";
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { ConfigMap } from "kubernetes-models/v1";
import { scriptText } from "../../components/scriptFile";
import { controlPlaneGateFigures, loadTopology, quorumOf } from "@ha-control-plane/topology";
import { RecordedResource, Recording } from "../../tools/recorder";
import { labConfig, recordLab } from "../helpers/program";
import { readProjectFile } from "../../components/projectFiles";

/**
 * The Kubernetes objects the program registers (phases 4.5, 5, 7), taken from the recorded
 * inputs of the real program under mocks, validated against the Kubernetes API schemas of the
 * kubernetes-models package (generated from the upstream OpenAPI documents).
 */
type Model = { validate(): void };
const MODELS: Record<string, (json: any) => Model> = {
    "kubernetes:core/v1:ConfigMap": (j) => new ConfigMap(j),
    "kubernetes:batch/v1:CronJob": (j) => new CronJob(j),
    "kubernetes:rbac.authorization.k8s.io/v1:Role": (j) => new Role(j),
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole": (j) => new ClusterRole(j),
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": (j) => new RoleBinding(j),
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": (j) => new ClusterRoleBinding(j),
};

/** Every key anywhere in a JSON value. */
function keysOf(value: unknown): string[] {
    if (Array.isArray(value)) return value.flatMap(keysOf);
    if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => [k, ...keysOf(v)]);
    return [];
}

/** The manifest as the provider would send it: the recorded inputs, plain JSON. */
function manifest(r: RecordedResource): any {
    return JSON.parse(JSON.stringify(r.inputs));
}

describe("Kubernetes manifests of phases 4.5 to 7 (kubernetes-models schema validation)", function () {
    this.timeout(60_000);
    let recording: Recording;
    let k8sObjects: RecordedResource[];
    const byName = (name: string) => k8sObjects.find((r) => manifest(r).metadata?.name === name)!;
    const lab = loadTopology(labConfig("7").raw, { project: "ha-control-plane", stack: "lab", readProjectFile });

    before(async () => {
        recording = await recordLab("7");
        k8sObjects = recording.resources.filter((r) => r.type.startsWith("kubernetes:") && r.custom && !r.type.startsWith("pulumi:providers"));
    });

    it("registers only kinds it can validate, each valid against the API schema", () => {
        assert.ok(k8sObjects.length >= 12, `${k8sObjects.length} objects`);
        for (const r of k8sObjects) {
            const model = MODELS[r.type];
            assert.ok(model, `no schema for ${r.type}`);
            const json = manifest(r);
            assert.ok(!JSON.stringify(json).includes("[secret]") && !JSON.stringify(json).includes("[unknown]"), `${r.name} is fully known`);
            assert.doesNotThrow(() => model(json).validate(), `${r.type} ${r.name}`);
            assert.equal(json.metadata.labels["app.kubernetes.io/part-of"], "ha-control-plane");
        }
    });

    it("the validator is not a rubber stamp: a broken toleration and a nameless container are refused", () => {
        const json = manifest(byName("etcd-backup"));
        json.spec.jobTemplate.spec.template.spec.tolerations[0].operator = 5;
        assert.throws(() => new CronJob(json).validate(), /operator/);
        const nameless = manifest(byName("etcd-defrag"));
        delete nameless.spec.jobTemplate.spec.template.spec.containers[0].name;
        assert.throws(() => new CronJob(nameless).validate(), /name/);
    });

    it("etcd CronJobs run on any control-plane node: nodeSelector + toleration, never nodeName", () => {
        for (const name of ["etcd-backup", "etcd-defrag"]) {
            const json = manifest(byName(name));
            const pod = json.spec.jobTemplate.spec.template.spec;
            assert.deepEqual(pod.nodeSelector, { "node-role.kubernetes.io/control-plane": "" });
            assert.deepEqual(pod.tolerations, [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }]);
            assert.ok(!keysOf(json).includes("nodeName"), `${name} pins no node`);
            assert.equal(pod.hostNetwork, true);
            assert.equal(json.spec.concurrencyPolicy, "Forbid");
            assert.equal(json.metadata.namespace, "kube-system");
        }
    });

    it("backup: snapshot, verify, then store with the configured retention on the configured volume", () => {
        const json = manifest(byName("etcd-backup"));
        const pod = json.spec.jobTemplate.spec.template.spec;
        assert.equal(json.spec.schedule, "0 */6 * * *");
        assert.deepEqual(pod.initContainers.map((c: any) => c.command.slice(0, 1)[0]), ["etcdctl", "etcdutl"]);
        assert.deepEqual(pod.initContainers[0].command.slice(-3), ["snapshot", "save", "/work/snapshot.db"]);
        const store = pod.containers[0].command;
        assert.equal(store[store.indexOf("--keep") + 1], String(lab.clusterOps.etcdMaintenance.backup.retainCount));
        assert.deepEqual(pod.volumes.find((v: any) => v.name === "backup"), { name: "backup", hostPath: { path: "/srv/nfs/etcd-backup", type: "Directory" } });
        const scripts = manifest(byName("etcd-backup-scripts"));
        assert.equal(scripts.data["etcd-backup-store.sh"], scriptText("cluster/etcd-backup-store.sh"));
        // Only the CA and the health-check client pair are mounted, read-only.
        const hostFiles = pod.volumes.filter((v: any) => v.hostPath?.type === "File").map((v: any) => v.hostPath.path).sort();
        assert.deepEqual(hostFiles, ["/etc/kubernetes/pki/etcd/ca.crt", "/etc/kubernetes/pki/etcd/healthcheck-client.crt", "/etc/kubernetes/pki/etcd/healthcheck-client.key"]);
    });

    it("defrag: one member at a time, leader last, stops at the first failure", () => {
        const args: string[] = manifest(byName("etcd-defrag")).spec.jobTemplate.spec.template.spec.containers[0].args;
        assert.ok(args.includes("--cluster"));
        assert.ok(args.includes("--continue-on-error=false"));
        assert.ok(args.includes("--compaction=false"));
        assert.ok(args.includes("--wait-between-defrags=30s"));
        assert.ok(args.some((a) => a.startsWith("--defrag-rule=")));
    });

    it("kured gate and upgrade chain ConfigMaps carry the scripts and the topology's quorum figures", () => {
        const figures = controlPlaneGateFigures(lab.masters);
        assert.deepEqual(figures, { members: 3, quorum: quorumOf(3), faultTolerance: 1 });
        const gate = manifest(byName("kured-control-plane-gate"));
        assert.equal(gate.metadata.namespace, "kured");
        assert.equal(gate.data["quorum-gate.sh"], scriptText("cluster/quorum-gate.sh"));
        assert.equal(gate.data["kured-sentinel-gate.sh"], scriptText("cluster/kured-sentinel-gate.sh"));
        assert.equal(gate.data["gate.env"], `CONTROL_PLANE_MEMBERS=${figures.members}\nCONTROL_PLANE_QUORUM=${figures.quorum}\nCHECK_INTERVAL_SECONDS=300\n`);
        const chain = manifest(byName("upgrade-chain"));
        assert.equal(chain.metadata.namespace, "k8s-upgrade");
        assert.match(chain.data["chain.env"], /^CONTROL_PLANE_MEMBERS=3\nCONTROL_PLANE_QUORUM=2\nFIRST_MASTER=k8s-master\n/);
        for (const key of ["upgrade-chain.sh", "node-upgrade.sh", "quorum-gate.sh"]) assert.equal(chain.data[key], scriptText(`cluster/${key}`));
    });

    it("the gates may exec only into the stack's etcd pods, bound to the kured and upgrade service accounts", () => {
        const role = manifest(byName("ha-control-plane-etcd-health"));
        for (const rule of role.rules) assert.deepEqual(rule.resourceNames, ["etcd-k8s-master", "etcd-k8s-master-2", "etcd-k8s-master-3"]);
        const subjects = k8sObjects
            .filter((r) => r.type.endsWith(":RoleBinding") && manifest(r).roleRef.name === "ha-control-plane-etcd-health")
            .map((r) => manifest(r).subjects[0]);
        assert.deepEqual(subjects.map((s) => `${s.namespace}/${s.name}`).sort(), ["k8s-upgrade/k8s-upgrade", "kured/kured-sentinel-gate"]);
    });

    it("the provider's kubeconfig is a secret, and no secret reaches a manifest", () => {
        const provider = recording.resources.find((r) => r.type === "pulumi:providers:kubernetes")!;
        assert.equal(String(provider.inputs.kubeconfig), "[secret]");
        assert.equal(provider.inputs.context, "kubernetes-admin@kubernetes");
        assert.ok(!JSON.stringify(recording.resources).includes("placeholder-for-"));
        for (const r of k8sObjects) assert.equal(r.provider?.split("::").pop(), "kubernetes", `${r.name} uses the stack's provider`);
    });

});
