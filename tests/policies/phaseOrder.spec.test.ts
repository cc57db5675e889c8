import { strict as assert } from "assert";
import { phaseOrder } from "../../policies/phaseOrder";
import { COMPONENT_TYPES as T, joinFacts, kubeletCutoverFacts } from "@ha-control-plane/topology";
import { RecordedResource } from "../../tools/recorder";
import { cachedLab, recordLab } from "../helpers/program";
import { component, recorded, resource, violationsOf, withoutEdges } from "../helpers/policy";

const CMD = "command:remote:Command";
const urn = (name: string) => `urn:pulumi:spec::ha-control-plane::spec::${name}`;

/**
 * A compliant graph in miniature: retrofit (2 steps), load balancer (1), two joins (join, gate,
 * membership), two kubelet cut-overs (flip, ready), wired as the program wires them.
 */
function compliant(): Map<string, RecordedResource> {
    const rs: RecordedResource[] = [];
    const add = (r: RecordedResource) => (rs.push(r), r);
    const step = (name: string, parent: string, deps: string[]) => add(resource(CMD, name, { create: "true" }, { urn: urn(name), parent: urn(parent), dependencies: deps.map(urn) }));
    add(component(T.retrofit, "retrofit", {}, { urn: urn("retrofit") }));
    step("retrofit-preflight", "retrofit", []);
    step("retrofit-apply", "retrofit", ["retrofit-preflight"]);
    add(component(T.apiserverLoadBalancer, "apiserver-lb", {}, { urn: urn("apiserver-lb") }));
    step("apiserver-lb-pfsense", "apiserver-lb", ["retrofit-apply"]);
    let previous: string[] = ["apiserver-lb-pfsense"];
    for (const [i, m] of ["k8s-master-2", "k8s-master-3"].entries()) {
        add(component(T.controlPlaneJoin, m, { facts: recorded(joinFacts({ node: m, member: i + 2, of: 3, join: urn(`${m}-join`), gate: urn(`${m}-gate`), membership: urn(`${m}-etcd-membership`) })) }, { urn: urn(m) }));
        step(`${m}-etcd-membership`, m, previous);
        step(`${m}-join`, m, [`${m}-etcd-membership`]);
        step(`${m}-gate`, m, [`${m}-join`]);
        previous = [`${m}-gate`];
    }
    for (const [position, node] of ["k8s-node1", "k8s-node2"].entries()) {
        add(component(T.kubeletCutover, node, { facts: recorded(kubeletCutoverFacts({ node, host: `${node}.lab`, position, flip: urn(`${node}-kubelet-flip`), ready: urn(`${node}-kubelet-ready`) })) }, { urn: urn(node) }));
        step(`${node}-kubelet-flip`, node, previous);
        step(`${node}-kubelet-ready`, node, [`${node}-kubelet-flip`]);
        previous = [`${node}-kubelet-ready`];
    }
    return new Map(rs.map((r) => [r.name, r]));
}

/** The compliant graph with one resource's field changed. */
/** Whether `r` is under a resource whose URN ends with `suffix`, directly or through its RemoteSteps. */
function underParent(resources: readonly RecordedResource[], r: RecordedResource, suffix: string): boolean {
    const byUrn = new Map(resources.map((x) => [x.urn, x]));
    for (let p = r.parent; p; p = byUrn.get(p)?.parent) if (p.endsWith(suffix)) return true;
    return false;
}

function changed(name: string, patch: Partial<RecordedResource>): RecordedResource[] {
    const g = compliant();
    g.set(name, { ...g.get(name)!, ...patch });
    return [...g.values()];
}

describe("policy phase-order", () => {
    it("is a mandatory stack policy", () => {
        assert.equal(phaseOrder.enforcementLevel, "mandatory");
        assert.equal(typeof phaseOrder.validateStack, "function");
    });

    it("passes the compliant graph", async () => {
        assert.deepEqual(await violationsOf(phaseOrder, [...compliant().values()]), []);
    });

    it("refuses a join that does not wait for the retrofit", async () => {
        const [v, ...rest] = await violationsOf(phaseOrder, changed("k8s-master-2-etcd-membership", { dependencies: [] }));
        assert.equal(v.enforcementLevel, "mandatory");
        assert.match(v.message, /k8s-master-2's join does not wait for the phase 0 retrofit \(retrofit-preflight\)/);
        assert.ok(rest.some((x) => /load balancer phase \(apiserver-lb-pfsense\)/.test(x.message)));
        assert.equal(v.urn, urn("k8s-master-2-join"));
    });

    it("refuses a join that waits for the retrofit but not the load balancer phase", async () => {
        const violations = await violationsOf(phaseOrder, changed("k8s-master-2-etcd-membership", { dependencies: [urn("retrofit-apply")] }));
        // master-3 (and the cut-overs) only reach the LB phase through master-2.
        assert.deepEqual(violations.map((v) => v.message.split(":")[0]), [
            "k8s-master-2's join does not wait for the load balancer phase (apiserver-lb-pfsense)",
            "k8s-master-3's join does not wait for the load balancer phase (apiserver-lb-pfsense)",
        ]);
    });

    it("refuses a join that does not wait for the previous master's gate", async () => {
        const [v, ...rest] = await violationsOf(phaseOrder, changed("k8s-master-3-etcd-membership", { dependencies: [urn("apiserver-lb-pfsense")] }));
        assert.match(v.message, /k8s-master-3's join \(etcd member 3\) does not wait for k8s-master-2's gate \(member 2\): two masters could join at once/);
        // The cut-overs reached master-2 only through master-3's gate.
        assert.deepEqual(rest.map((x) => x.message.split(":")[0]), ["the kubelet cut-over of k8s-node1 does not wait for k8s-master-2's join and gate", "the kubelet cut-over of k8s-node2 does not wait for k8s-master-2's join and gate"]);
    });

    it("refuses a kubelet cut-over that does not wait for every join", async () => {
        const violations = await violationsOf(phaseOrder, changed("k8s-node1-kubelet-flip", { dependencies: [urn("k8s-master-2-gate")] }));
        assert.ok(violations.some((v) => /kubelet cut-over of k8s-node1 does not wait for k8s-master-3's join and gate/.test(v.message)), JSON.stringify(violations));
    });

    it("refuses kubelet flips that are not one chain", async () => {
        const [v, ...rest] = await violationsOf(phaseOrder, changed("k8s-node2-kubelet-flip", { dependencies: [urn("k8s-master-3-gate")] }));
        assert.equal(rest.length, 0);
        assert.match(v.message, /not one chain: k8s-node2's flip does not wait for k8s-node1 to be Ready again/);
    });

    it("refuses a control-plane join that does not say which step joins", async () => {
        const [v] = await violationsOf(phaseOrder, changed("k8s-master-3", { outputs: {} }));
        assert.match(v.message, /k8s-master-3 does not register which of its steps joins/);
    });

    it("refuses joins in a stack with no retrofit or no load balancer phase", async () => {
        const g = compliant();
        for (const n of ["retrofit", "retrofit-preflight", "retrofit-apply"]) g.delete(n);
        const violations = await violationsOf(phaseOrder, [...g.values()]);
        assert.ok(violations.some((v) => /has no phase 0 retrofit/.test(v.message) && v.urn === undefined));
    });

    describe("on the lab's recorded graph", () => {
        it("passes at every phase from 2 to 7", async () => {
            for (const phase of ["2", "3", "4", "7"]) assert.deepEqual(await violationsOf(phaseOrder, (await cachedLab(phase)).resources), [], `phase ${phase}`);
        });

        it("fails when the program's phase order is broken: k8s-master-2's VM and join registered outside the phase chain (no retrofit, no LB phase)", async () => {
            // As if the phase 2 builder gave k8s-master-2's MasterVm and ControlPlaneJoin { parent: phase }
            // instead of phase.childOptions(...): their steps keep only their order among themselves.
            const { resources } = await cachedLab("3");
            const pipeline = (r: RecordedResource) => [`${T.masterVm}::k8s-master-2`, `${T.controlPlaneJoin}::k8s-master-2`].some((suffix) => underParent(resources, r, suffix));
            const inside = new Set(resources.filter(pipeline).map((r) => r.urn));
            const broken = withoutEdges(resources, pipeline, (u) => !inside.has(u));
            const violations = await violationsOf(phaseOrder, broken);
            const messages = violations.map((v) => v.message);
            assert.ok(messages.some((m) => /k8s-master-2's join does not wait for the phase 0 retrofit \(retrofit-/.test(m)), messages.join("\n"));
            assert.ok(messages.some((m) => /k8s-master-2's join does not wait for the load balancer phase \(apiserver-/.test(m)));
            assert.ok(violations.every((v) => v.enforcementLevel === "mandatory"));
        });

        it("fails when a further master's join loses its edge to the previous gate (5 masters: 4 and 5 share phase 3)", async () => {
            const five = await recordLab("3", (raw) => {
                const masters = raw.masters as Record<string, unknown>[];
                masters.push({ ...masters[2], name: "k8s-master-4", ip: "10.0.20.112", vmId: 207 }, { ...masters[2], name: "k8s-master-5", ip: "10.0.20.113", vmId: 208 });
                (raw.proxmox as { nodes: { committedMemoryGiB: number }[] }).nodes[0].committedMemoryGiB = 100;
            });
            assert.deepEqual(await violationsOf(phaseOrder, five.resources), []);
            const gate3 = five.resources.find((r) => r.name === "k8s-master-3-gate" && r.custom)!.urn;
            const broken = withoutEdges(five.resources, (r) => underParent(five.resources, r, "::k8s-master-4"), (u) => u === gate3);
            const [v, ...rest] = await violationsOf(phaseOrder, broken);
            assert.equal(rest.length, 0);
            assert.match(v.message, /k8s-master-4's join \(etcd member 4\) does not wait for k8s-master-3's gate/);
        });

        it("fails when a kubelet flip of the lab no longer waits for the previous node", async () => {
            const { resources } = await cachedLab("4");
            // Under a node's KubeletCutover, directly or through its RemoteSteps.
            const byUrn = new Map(resources.map((r) => [r.urn, r]));
            const under = (r: (typeof resources)[number], node: string): boolean => {
                for (let p = r.parent; p; p = byUrn.get(p)?.parent) if (p.endsWith(`::${node}`)) return true;
                return false;
            };
            const previous = resources.filter((r) => under(r, "k8s-node1")).map((r) => r.urn);
            const broken = withoutEdges(resources, (r) => under(r, "k8s-node2"), (u) => previous.includes(u));
            const violations = await violationsOf(phaseOrder, broken);
            assert.deepEqual(violations.map((v) => v.message), ["the kubelet flips are not one chain: k8s-node2's flip does not wait for k8s-node1 to be Ready again, so two kubelets could restart at once"]);
        });
    });
});
