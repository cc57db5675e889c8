import { strict as assert } from "assert";
import { controlPlaneTaint, mastersDoNotJoinAsWorkers } from "../../policies/kubeadm";
import { COMPONENT_TYPES as T, CONTROL_PLANE_TAINT, joinFacts, memberTag, taintArg } from "@ha-control-plane/topology";
import { renderMasterUserData } from "../../components/shipping/userData";
import { RecordedResource } from "../../tools/recorder";
import { cachedLab } from "../helpers/program";
import { component, recorded, resource, violationsOf } from "../helpers/policy";

const PREPARE = "#!/usr/bin/env bash\n# It never runs `kubeadm join`: masters join through the program.\nlog \"ready for kubeadm join --control-plane\"\napt-get install -y kubeadm\n";

function userData(edit: (doc: string) => string = (d) => d): string {
    return edit(renderMasterUserData({ hostname: "k8s-master-2", domain: "lab", user: "wizard", publicKey: "ssh-ed25519 AAAA wizard", kubernetesVersion: "1.34.8", prepareScript: PREPARE }));
}

/** A new master's VM whose cloud-init points at its user-data snippet (a property dependency, as the program records it). */
function master(data: string): RecordedResource[] {
    const file = resource("proxmoxve:index/fileLegacy:FileLegacy", "k8s-master-2-user-data", { contentType: "snippets", sourceRaw: { fileName: "k8s-master-2-user-data.yaml", data } });
    const vm = resource(
        "proxmoxve:index/vmLegacy:VmLegacy",
        "k8s-master-2-vm",
        { name: "k8s-master-2", nodeName: "pve", memory: { dedicated: 16384 }, tags: ["k8s-control-plane", memberTag(2, 3)], initialization: { userDataFileId: "local:snippets/k8s-master-2-user-data.yaml" } },
        { dependencies: [file.urn], propertyDependencies: { initialization: [file.urn] } },
    );
    return [file, vm];
}

describe("policy masters-do-not-join-as-workers", () => {
    it("is mandatory", () => assert.equal(mastersDoNotJoinAsWorkers.enforcementLevel, "mandatory"));

    it("passes the program's user-data (which only mentions kubeadm join in a comment and a log line)", async () => {
        assert.deepEqual(await violationsOf(mastersDoNotJoinAsWorkers, master(userData())), []);
    });

    it("refuses a runcmd entry that joins", async () => {
        const data = userData((d) => d.replace("runcmd:\n", "runcmd:\n  - kubeadm join 10.0.20.100:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:00\n"));
        const [v] = await violationsOf(mastersDoNotJoinAsWorkers, master(data));
        assert.equal(v.enforcementLevel, "mandatory");
        assert.match(v.message, /master k8s-master-2's user-data \(k8s-master-2-user-data\.yaml\) runs kubeadm join in runcmd\[0\]/);
    });

    it("refuses a join inside the script cloud-init writes and runs, and in list-form runcmd", async () => {
        const inScript = userData((d) => d.replace("apt-get install -y kubeadm", "apt-get install -y kubeadm\n      sudo kubeadm join 10.0.20.100:6443"));
        const [v] = await violationsOf(mastersDoNotJoinAsWorkers, master(inScript));
        assert.match(v.message, /runs kubeadm join in write_files \/usr\/local\/sbin\/k8s-node-prepare\.sh/);
        const listForm = userData((d) => d.replace("runcmd:\n", "runcmd:\n  - [bash, -c, \"kubeadm join 10.0.20.100:6443\"]\n"));
        assert.equal((await violationsOf(mastersDoNotJoinAsWorkers, master(listForm))).length, 1);
    });

    it("on the lab's recorded graph: passes (the real prepare script mentions, never runs, kubeadm join); a joining snippet is refused", async () => {
        const { resources } = await cachedLab("3");
        assert.deepEqual(await violationsOf(mastersDoNotJoinAsWorkers, resources), []);
        // The seed's worker template runs config.tfvars' k8s_join_command; as if it leaked into a master's snippet.
        const joining = resources.map((r) => {
            if (r.name !== "k8s-master-3-user-data") return r;
            const raw = r.inputs.sourceRaw as { fileName: string; data: string };
            return { ...r, inputs: { ...r.inputs, sourceRaw: { ...raw, data: raw.data.replace("runcmd:\n", "runcmd:\n  - kubeadm join 10.0.20.100:6443 --token x --discovery-token-ca-cert-hash y\n") } } };
        });
        const [v, ...rest] = await violationsOf(mastersDoNotJoinAsWorkers, joining);
        assert.equal(rest.length, 0);
        assert.match(v.message, /master k8s-master-3's user-data \(k8s-master-3-user-data\.yaml\) runs kubeadm join in runcmd\[0\]/);
    });
});

/** A control-plane join whose join step has `create`, with the facts that name the step. */
function join(create: string, facts = true): RecordedResource[] {
    const urn = (n: string) => `urn:pulumi:spec::ha-control-plane::spec::${n}`;
    const parent = component(
        T.controlPlaneJoin,
        "k8s-master-2",
        facts ? { facts: recorded(joinFacts({ node: "k8s-master-2", member: 2, of: 3, join: urn("join"), gate: urn("gate"), membership: urn("membership") })) } : {},
    );
    return [
        parent,
        resource("command:remote:Command", "k8s-master-2-join", { create }, { urn: urn("join"), parent: parent.urn }),
        resource("command:remote:Command", "k8s-master-2-gate", { create: "bash -s -- --node k8s-master-2" }, { urn: urn("gate"), parent: parent.urn }),
    ];
}
const LINE = "sudo -n bash -s -- --endpoint 10.0.20.99:6443 --advertise-address 10.0.20.110 --node-name k8s-master-2";

describe("policy control-plane-taint", () => {
    it("is mandatory", () => assert.equal(controlPlaneTaint.enforcementLevel, "mandatory"));

    it("passes a join with the control-plane NoSchedule taint", async () => {
        assert.deepEqual(await violationsOf(controlPlaneTaint, join(`${LINE} ${taintArg(CONTROL_PLANE_TAINT)} --timeout 900`)), []);
    });

    it("refuses a join without the taint", async () => {
        const [v] = await violationsOf(controlPlaneTaint, join(`${LINE} --timeout 900`));
        assert.equal(v.enforcementLevel, "mandatory");
        assert.match(v.message, /k8s-master-2's join: it joins without the node-role\.kubernetes\.io\/control-plane:NoSchedule taint \(taints given: none\)/);
    });

    it("refuses a join whose taint is only PreferNoSchedule", async () => {
        const [v] = await violationsOf(controlPlaneTaint, join(`${LINE} --taint node-role.kubernetes.io/control-plane:PreferNoSchedule`));
        assert.match(v.message, /taints given: node-role\.kubernetes\.io\/control-plane:PreferNoSchedule/);
    });

    it("refuses a join component that does not name its join step", async () => {
        const [v] = await violationsOf(controlPlaneTaint, join(`${LINE} ${taintArg(CONTROL_PLANE_TAINT)}`, false));
        assert.match(v.message, /does not register its join step/);
    });

    it("on the lab's recorded graph: both masters join with the taint", async () => {
        const { resources } = await cachedLab("3");
        assert.deepEqual(await violationsOf(controlPlaneTaint, resources), []);
        const untainted = resources.map((r) => (r.name === "k8s-master-3-join" ? { ...r, inputs: { ...r.inputs, create: String(r.inputs.create).replace(/ --taint \S+/, "") } } : r));
        const [v, ...rest] = await violationsOf(controlPlaneTaint, untainted);
        assert.equal(rest.length, 0);
        assert.match(v.message, /^k8s-master-3's join: it joins without/);
    });
});
