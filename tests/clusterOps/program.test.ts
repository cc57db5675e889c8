import { strict as assert } from "assert";
import { cutoverOrder, kubeletCutoverNodes, loadTopology } from "@ha-control-plane/topology";
import { RecordedResource } from "../../tools/recorder";
import { labConfig, nameOf, recordLab } from "../helpers/program";
import { COMPONENT_TYPES } from "@ha-control-plane/topology";
import { readProjectFile } from "../../components/projectFiles";

/** Phases 1.5 and 4 to 7 of the real program under the SDK's mocks (recording monitor). */
describe("cluster-wide phases under mocks (lab stack)", function () {
    this.timeout(60_000);
    const lab = loadTopology(labConfig("7").raw, { project: "ha-control-plane", stack: "lab", readProjectFile });
    let resources: readonly RecordedResource[];
    let outputs: Record<string, unknown>;
    const byName = (name: string) => {
        // A RemoteStep carries its command's name: the name means the command.
        const r = resources.find((x) => x.name === name && x.type !== COMPONENT_TYPES.remoteStep);
        assert.ok(r, `${name} is registered`);
        return r;
    };
    const deps = (name: string) => byName(name).dependencies.map(nameOf);
    /** Everything `name` waits for, directly or through what it waits for. */
    function closure(name: string): Set<string> {
        const seen = new Set<string>();
        const todo = [name];
        while (todo.length) {
            for (const d of deps(todo.pop()!)) if (!seen.has(d)) { seen.add(d); if (resources.some((r) => r.name === d)) todo.push(d); }
        }
        return seen;
    }

    before(async () => {
        ({ resources, outputs } = await recordLab("7"));
    });

    it("the kubelet flips form one serial chain: each node's flip waits for the previous node's flip and its Ready wait", () => {
        const order = kubeletCutoverNodes(lab.workers, lab.masters, lab.cluster.domain).map((n) => n.name);
        assert.deepEqual(order, ["k8s-node1", "k8s-node2", "k8s-node3", "k8s-node4"]);
        // Control-plane kubelets keep their local apiserver (kubeadm's ControlPlaneKubeletLocalMode).
        for (const m of lab.masters) assert.equal(resources.find((r) => r.name === `${m.name}-kubelet-flip`), undefined, `no flip on ${m.name}`);
        assert.ok(deps("k8s-node1-kubelet-flip").includes("kube-proxy-flip"), "kube-proxy first");
        for (let i = 0; i < order.length; i++) {
            assert.ok(deps(`${order[i]}-kubelet-ready`).includes(`${order[i]}-kubelet-flip`), `${order[i]}: the wait follows its flip`);
            if (i === 0) continue;
            const flip = deps(`${order[i]}-kubelet-flip`);
            assert.ok(flip.includes(`${order[i - 1]}-kubelet-flip`), `${order[i]} after ${order[i - 1]}'s flip`);
            assert.ok(flip.includes(`${order[i - 1]}-kubelet-ready`), `${order[i]} after ${order[i - 1]} is Ready again`);
            for (const later of order.slice(i + 1)) assert.ok(!closure(`${order[i]}-kubelet-flip`).has(`${later}-kubelet-flip`), "no cycle");
        }
        // One chain, not a fan: every node but the first waits for exactly one other node.
        for (const node of order.slice(1)) {
            const nodes = new Set(deps(`${node}-kubelet-flip`).filter((d) => d.endsWith("-kubelet-ready")));
            assert.equal(nodes.size, 1, node);
        }
    });

    it("orders the phases 1.5 -> 2 -> 4: cluster-info and the audit policy before the first join, the cut-over after the last", () => {
        const phase2 = closure("k8s-master-2-vm");
        assert.ok(phase2.has("cluster-info-flip"), "cluster-info points at the VIP before master-2 is created");
        assert.ok(phase2.has("k8s-master-audit-policy-install"));
        const phase4 = closure("kube-proxy-flip");
        assert.ok(phase4.has("k8s-master-3-vm") && phase4.has("k8s-master-2-vm"), "the cut-over waits for every master");
        assert.ok(!closure("cluster-info-flip").has("k8s-master-2-vm"), "and not the other way round");
        const phaseOf = (name: string) => nameOf(byName(name).parent ?? "");
        assert.equal(phaseOf("cluster-info"), "phase-1-5");
        assert.equal(phaseOf("kube-proxy"), "phase-4");
        assert.equal(phaseOf("etcd-maintenance"), "phase-4-5");
        assert.equal(phaseOf("kured-gate"), "phase-5");
        assert.equal(phaseOf("verify"), "phase-6");
        assert.equal(phaseOf("upgrade-chain"), "phase-7");
    });

    it("every cut-over step restores on delete; the Ready waits and gates change nothing", () => {
        for (const name of ["cluster-info-flip", "kube-proxy-flip", "k8s-node1-kubelet-flip", "k8s-node4-kubelet-flip"]) {
            const r = byName(name);
            assert.match(String(r.inputs.delete), /--restore/, name);
            assert.match(String(r.inputs.create), /--to https:\/\/10\.0\.20\.99:6443 --from https:\/\/10\.0\.20\.100:6443/, name);
        }
        assert.equal(byName("k8s-node1-kubelet-ready").inputs.delete, undefined);
        assert.equal(byName("verify-etcd-members").inputs.delete, undefined);
        assert.equal(String(byName("k8s-node1-kubelet-flip").inputs.connection), "[secret]");
    });

    it("phase 6 gates: etcd, flag parity on every master, every kubelet and both ConfigMaps on the VIP", () => {
        assert.match(String(byName("verify-etcd-members").inputs.create), /--members k8s-master,k8s-master-2,k8s-master-3/);
        // pfSense: PHP, no sudo, HAProxy's own view of the pool.
        assert.equal(byName("verify-lb-pool").inputs.create, "php -- --socket /tmp/haproxy.socket --backend apiserver_nodes --servers k8s-master,k8s-master-2,k8s-master-3 --timeout 60");
        for (const m of lab.masters) assert.match(String(byName(`verify-${m.name}-parity`).inputs.create), /check --expect-apiserver audit-log-maxage=7 /);
        for (const n of cutoverOrder(lab.workers, lab.masters, lab.cluster.domain)) {
            if (n.role === "worker") assert.match(String(byName(`verify-${n.name}-kubelet-vip`).inputs.create), /--check https:\/\/10\.0\.20\.99:6443$/);
            else assert.match(String(byName(`verify-${n.name}-kubelet-local`).inputs.create), new RegExp(`--check https://${n.host.replace(/\./g, "\\.")}:6443$`));
        }
        // New masters converge before any parity gate, one after the other.
        assert.ok(deps("verify-k8s-master-3-flags").includes("verify-k8s-master-2-flags"));
        assert.ok(deps("verify-k8s-master-parity").includes("verify-k8s-master-3-flags"));
    });

    it("outputs the external consumers still to flip, with the VIP URL, from phase 4 on", async () => {
        const consumers = outputs.externalConsumers as { name: string; location: string; server: string; replaces: string }[];
        assert.equal(consumers.length, lab.clusterOps.cutover.externalConsumers.length);
        assert.ok(consumers.length >= 8);
        for (const c of consumers) {
            assert.equal(c.server, "https://10.0.20.99:6443");
            assert.equal(c.replaces, "https://10.0.20.100:6443");
        }
        assert.ok(consumers.some((c) => c.location === "/home/wizard/code/infra/config"));
        assert.ok(consumers.some((c) => c.location.startsWith(".woodpecker/")));
        assert.ok(consumers.some((c) => c.location.includes("k8s-portal")));
        const before = await recordLab("3");
        assert.equal(before.outputs.externalConsumers, undefined);
    });

    it("copies the audit policy to every new master before its join (phase 1.5 hands its beforeJoin step to phases 2 and 3), after the node is ready", () => {
        for (const master of lab.newMasters) {
            const install = `${master.name}-audit-policy-install`;
            assert.ok(deps(install).includes(`${master.name}-ready`), `${install} waits for cloud-init and SSH`);
            assert.ok(deps(install).includes(`${master.name}-audit-policy-copy`));
            assert.ok(deps(`${master.name}-join`).includes(install), `${master.name} joins only with the policy in place`);
            assert.match(String(byName(install).inputs.create), /install --staged \/tmp\/ha-control-plane-audit-policy-[0-9a-f]{12}\.yaml --path \/etc\/kubernetes\/audit\/policy\.yaml$/);
            // Nothing that runs on a new master may be needed to roll it back: the copy goes with its VM.
            assert.equal(byName(install).inputs.delete, undefined, `${install} has no delete`);
        }
        assert.match(String(byName("k8s-master-audit-policy-install").inputs.delete), /remove --staged /, "the existing master's copy is removed");
        assert.equal(nameOf(byName("k8s-master-3-audit-policy").parent!), "phase-3");
    });

    it("registers the Kubernetes provider only from phase 4.5, and nothing of phase 4 before it", async () => {
        const at4 = await recordLab("4");
        assert.ok(!at4.resources.some((r) => r.type === "pulumi:providers:kubernetes"));
        assert.ok(resources.some((r) => r.type === "pulumi:providers:kubernetes"));
        const at3 = await recordLab("3");
        assert.ok(!at3.resources.some((r) => r.name.endsWith("-kubelet-flip")));
        assert.ok(at3.resources.some((r) => r.name === "cluster-info-flip"), "cluster-info flips before the joins");
    });
});
